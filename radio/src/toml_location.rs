//! Where in a TOML file an error is: line, column and the dotted key (`channel[2].bandwidth_hz`),
//! for the messages of every trustband config loader (band plans here; the CLI's testbed and
//! node files use the same functions).

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// The dotted key an error at `offset` is about: the table header in force (`channel[2]` for
/// the third `[[channel]]`) joined with the key named by the message (`unknown field `x``,
/// `missing field `x``) or written on the error's line (`x = ...`); `-` if none.
pub fn error_key(text: &str, offset: usize, message: &str) -> String {
    let offset = offset.min(text.len());
    let line_start = text
        .get(..offset)
        .and_then(|b| b.rfind('\n'))
        .map_or(0, |i| i + 1);
    let line_end = text
        .get(offset..)
        .and_then(|a| a.find('\n'))
        .map_or(text.len(), |i| offset + i);
    let line = text.get(line_start..line_end).unwrap_or("").trim();

    // The table whose body holds the error (a header line itself counts as its own table).
    let mut table = String::new();
    let mut counts: Vec<(String, usize)> = Vec::new();
    let upto = text.get(..line_end).unwrap_or("");
    for l in upto.lines().map(str::trim) {
        if let Some(rest) = l.strip_prefix("[[") {
            // A malformed header (`[[channel]`) leaves no table in force.
            let Some((name, _)) = rest.split_once("]]") else {
                table.clear();
                continue;
            };
            let name = name.trim().to_owned();
            let index = match counts.iter_mut().find(|(n, _)| *n == name) {
                Some((_, c)) => {
                    *c += 1;
                    *c - 1
                }
                None => {
                    counts.push((name.clone(), 1));
                    0
                }
            };
            table = format!("{name}[{index}]");
        } else if let Some(rest) = l.strip_prefix('[') {
            match rest.split_once(']') {
                Some((name, _)) => table = name.trim().to_owned(),
                None => table.clear(),
            }
        }
    }

    let named = [
        "unknown field `",
        "missing field `",
        "duplicate key `",
        "unknown variant `",
    ]
    .iter()
    .find_map(|p| message.split(p).nth(1).and_then(|r| r.split('`').next()))
    .map(str::to_owned);
    let on_line = if line.starts_with('[') {
        None
    } else {
        line.split_once('=')
            .map(|(k, _)| k.trim().trim_matches('"').to_owned())
    };
    // An unknown variant names the value, not the key: the key is the one on the line.
    let key = if message.starts_with("unknown variant") {
        on_line.or(named)
    } else {
        named.or(on_line)
    };
    match (key, table.is_empty()) {
        (Some(k), true) => k,
        (Some(k), false) => format!("{table}.{k}"),
        (None, false) => table,
        (None, true) => "-".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_from_one() {
        let t = "a = 1\nbb = 2\n";
        assert_eq!(line_column(t, 0), (1, 1));
        assert_eq!(line_column(t, 6), (2, 1));
        assert_eq!(line_column(t, 9), (2, 4));
        assert_eq!(line_column(t, 999), (3, 1));
    }

    #[test]
    fn error_key_uses_table_index() {
        let t = "name = \"x\"\n[[channel]]\nname = \"a\"\n[[channel]]\nbw = 3\n";
        let off = t.find("bw").unwrap_or(0);
        assert_eq!(
            error_key(t, off, "unknown field `bw`, expected ..."),
            "channel[1].bw"
        );
        assert_eq!(error_key(t, off, "invalid type"), "channel[1].bw");
        assert_eq!(error_key(t, 0, "invalid type"), "name");
    }
}
