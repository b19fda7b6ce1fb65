//! The tabular panels: channels, chain, trust, auctions and leases, log.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, StatefulWidget, Table, TableState, Widget, Wrap};

use super::format;
use super::panel_block;
use super::spectrum::placeholder;
use crate::app::{App, Panel, node_names};
use crate::model::{AuctionPhase, LeaseState, Level, Snapshot};

fn header_style() -> Style {
    Style::default()
        .fg(Color::Gray)
        .add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
}

fn highlight(app: &App, panel: Panel) -> Style {
    if app.focus == panel {
        Style::default().bg(Color::Cyan).fg(Color::Black)
    } else {
        Style::default().add_modifier(Modifier::REVERSED)
    }
}

fn dim() -> Style {
    Style::default().fg(Color::DarkGray)
}

fn busy_style(busy: Option<bool>) -> Style {
    match busy {
        Some(true) => Style::default().fg(Color::Red),
        Some(false) => Style::default().fg(Color::Green),
        None => dim(),
    }
}

/// Trust colour: green at or above the selection threshold (0.5 when unknown), yellow above
/// half of it, red below.
fn trust_style(v: f32, threshold: Option<f32>) -> Style {
    let t = threshold.unwrap_or(0.5);
    if v >= t {
        Style::default().fg(Color::Green)
    } else if v >= t / 2.0 {
        Style::default().fg(Color::Yellow)
    } else {
        Style::default().fg(Color::Red)
    }
}

/// Draws the block and returns the inner area, or draws a placeholder and returns None when
/// there is no snapshot.
fn frame_panel<'a>(
    app: &'a App,
    panel: Panel,
    extra: String,
    area: Rect,
    buf: &mut Buffer,
) -> Option<(&'a Snapshot, Rect)> {
    let block = panel_block(app, panel, extra);
    let inner = block.inner(area);
    block.render(area, buf);
    match app.feed().snapshot.as_ref() {
        Some(s) => Some((s, inner)),
        None => {
            placeholder("no data yet", inner, buf);
            None
        }
    }
}

pub(super) fn render_channels(app: &App, panel: Panel, area: Rect, buf: &mut Buffer) {
    let node = app.selected_node();
    let snap = app.feed().snapshot.as_ref();
    let extra = match snap.and_then(|s| s.channels.iter().find_map(|c| c.round)) {
        Some(r) => format!("· round {r}"),
        None => String::new(),
    };
    let Some((snap, inner)) = frame_panel(app, panel, extra, area, buf) else {
        return;
    };
    if snap.channels.is_empty() {
        placeholder("no channels in the band plan", inner, buf);
        return;
    }
    let names = node_names(snap);
    let sel = app.selected_channel();
    let wide = inner.width >= 72;
    let e_head = format!("E {}", node.unwrap_or(""));
    let mut header = vec![Cell::from("Ch"), Cell::from("MHz")];
    if wide {
        header.push(Cell::from("BW"));
    }
    header.extend([
        Cell::from(e_head),
        Cell::from("Nodes"),
        Cell::from("Fused"),
        Cell::from("Auction"),
        Cell::from("Lease"),
    ]);
    let res = snap
        .channels
        .iter()
        .map(|c| c.bandwidth_hz)
        .fold(f64::INFINITY, f64::min)
        .max(1.0);
    let name_w = snap
        .channels
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(2)
        .clamp(2, 12);
    let votes_w = snap
        .channels
        .iter()
        .map(|c| {
            names
                .iter()
                .filter(|n| {
                    c.per_node.iter().any(|r| r.node == **n)
                        || snap
                            .nodes
                            .iter()
                            .any(|x| x.name == **n && x.spectrum.is_some())
                })
                .count()
        })
        .max()
        .unwrap_or(0)
        .clamp(5, 16);
    let mhz_w = snap
        .channels
        .iter()
        .map(|c| format::mhz(c.center_hz, res).len())
        .max()
        .unwrap_or(3)
        .clamp(3, 12);
    let mut widths = vec![
        Constraint::Length(u16::try_from(name_w).unwrap_or(12)),
        Constraint::Length(u16::try_from(mhz_w).unwrap_or(12)),
    ];
    if wide {
        widths.push(Constraint::Length(5));
    }
    widths.extend([
        Constraint::Length(u16::try_from(e_head_width(node)).unwrap_or(8)),
        Constraint::Length(u16::try_from(votes_w).unwrap_or(16)),
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Fill(1),
    ]);
    // Room left for the lease column: the holder and state always, the term's end if it fits.
    let fixed: u16 = widths
        .iter()
        .map(|w| match w {
            Constraint::Length(n) => *n + 1,
            _ => 0,
        })
        .sum();
    let lease_w = usize::from(inner.width.saturating_sub(fixed));
    let rows: Vec<Row> =
        snap.channels
            .iter()
            .map(|c| {
                let mine = c.per_node.iter().find(|r| Some(r.node.as_str()) == node);
                let energy = match mine {
                    Some(r) => {
                        Cell::from(format!("{:.1}", r.energy_db)).style(busy_style(Some(r.busy)))
                    }
                    None => Cell::from("—").style(dim()),
                };
                let votes: Vec<Span> = names
                    .iter()
                    .filter_map(|n| {
                        let r = c.per_node.iter().find(|r| r.node == *n);
                        let sensed = r.is_some()
                            || snap
                                .nodes
                                .iter()
                                .any(|x| x.name == *n && x.spectrum.is_some());
                        match r {
                            Some(r) if r.busy => Some(Span::styled("■", busy_style(Some(true)))),
                            Some(_) => Some(Span::styled("□", busy_style(Some(false)))),
                            None if sensed => Some(Span::styled("·", dim())),
                            None => None,
                        }
                    })
                    .collect();
                let fused = match c.fused {
                    Some(true) => Cell::from("BUSY")
                        .style(busy_style(Some(true)).add_modifier(Modifier::BOLD)),
                    Some(false) => Cell::from("idle").style(busy_style(Some(false))),
                    None => Cell::from("…").style(dim()),
                };
                let auction = snap
                    .auctions
                    .iter()
                    .rev()
                    .find(|a| a.channel == c.name)
                    .map_or(Cell::from("—").style(dim()), |a| {
                        Cell::from(a.phase.label()).style(phase_style(a.phase))
                    });
                let lease = snap
                    .leases
                    .iter()
                    .rev()
                    .find(|l| l.channel == c.name && l.state != LeaseState::Expired)
                    .map_or(Cell::from("—").style(dim()), |l| {
                        let mut spans = vec![
                            Span::raw(format!("{} ", l.holder)),
                            Span::styled(l.state.label(), lease_style(l.state)),
                        ];
                        let term = format!(" ≤{}", l.until_height);
                        let used: usize = spans.iter().map(Span::width).sum();
                        if used + term.chars().count() <= lease_w {
                            spans.push(Span::styled(term, dim()));
                        }
                        Cell::from(Line::from(spans))
                    });
                let mut cells = vec![
                    Cell::from(c.name.clone()),
                    Cell::from(format::mhz(c.center_hz, res)),
                ];
                if wide {
                    cells.push(Cell::from(format::hz_short(c.bandwidth_hz)));
                }
                cells.extend([energy, Cell::from(Line::from(votes)), fused, auction, lease]);
                Row::new(cells)
            })
            .collect();
    // Detail lines for the selected channel below the table when there is room.
    let detail_h: u16 = if inner.height >= 8 { 2 } else { 0 };
    let [table_area, detail_area] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(detail_h)]).areas(inner);
    let sel_idx = sel.and_then(|s| snap.channels.iter().position(|c| c.name == s));
    let mut state = TableState::default().with_selected(sel_idx);
    StatefulWidget::render(
        Table::new(rows, widths)
            .header(Row::new(header).style(header_style()))
            .column_spacing(1)
            .row_highlight_style(highlight(app, panel)),
        table_area,
        buf,
        &mut state,
    );
    if detail_h > 0
        && let Some(c) = sel_idx.and_then(|i| snap.channels.get(i))
    {
        let mut spans = vec![Span::styled(
            format!(
                "{} {} MHz {} ",
                c.name,
                format::mhz(c.center_hz, res),
                format::hz_short(c.bandwidth_hz)
            ),
            Style::default().add_modifier(Modifier::BOLD),
        )];
        // One λ for all when the nodes share a threshold, else one per node.
        let first_t = c.per_node.first().and_then(|r| r.threshold_db);
        let shared = c.per_node.iter().all(|r| r.threshold_db == first_t);
        if shared && let Some(t) = first_t {
            spans.push(Span::styled(format!("λ {t:.1} dB"), dim()));
        }
        spans.push(Span::raw(": "));
        if c.per_node.is_empty() {
            spans.push(Span::styled("no reports", dim()));
        }
        for r in &c.per_node {
            spans.push(Span::raw(format!("{} ", r.node)));
            spans.push(Span::styled(
                format!("{:.1}{} ", r.energy_db, if r.busy { "■" } else { "□" }),
                busy_style(Some(r.busy)),
            ));
            if !shared && let Some(t) = r.threshold_db {
                spans.push(Span::styled(format!("(λ {t:.1}) "), dim()));
            }
        }
        Paragraph::new(Line::from(spans))
            .wrap(Wrap { trim: true })
            .render(detail_area, buf);
    }
}

/// Lays out items (each a few spans that stay together) into lines of at most `width`
/// columns, two spaces apart.
fn flow(items: Vec<Vec<Span<'static>>>, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width);
    let mut lines: Vec<Line> = Vec::new();
    let mut current: Vec<Span> = Vec::new();
    let mut used = 0usize;
    for item in items {
        let w: usize = item.iter().map(Span::width).sum();
        if used > 0 && used + 2 + w > width {
            lines.push(Line::from(std::mem::take(&mut current)));
            used = 0;
        }
        if used > 0 {
            current.push(Span::raw("  "));
            used += 2;
        }
        used += w;
        current.extend(item);
    }
    if !current.is_empty() {
        lines.push(Line::from(current));
    }
    lines
}

fn e_head_width(node: Option<&str>) -> usize {
    (2 + node.map_or(0, |n| n.chars().count())).clamp(6, 10)
}

fn phase_style(p: AuctionPhase) -> Style {
    match p {
        AuctionPhase::Commit | AuctionPhase::Reveal => Style::default().fg(Color::Yellow),
        AuctionPhase::Settled => Style::default().fg(Color::Green),
        AuctionPhase::Pending => Style::default().fg(Color::Gray),
        AuctionPhase::Void | AuctionPhase::Skipped | AuctionPhase::Expired => dim(),
    }
}

/// Display order of auctions: running, then waiting, then finished.
fn phase_rank(p: AuctionPhase) -> u8 {
    match p {
        AuctionPhase::Reveal => 0,
        AuctionPhase::Commit => 1,
        AuctionPhase::Pending => 2,
        AuctionPhase::Settled => 3,
        AuctionPhase::Void => 4,
        AuctionPhase::Skipped => 5,
        AuctionPhase::Expired => 6,
    }
}

fn lease_style(s: LeaseState) -> Style {
    match s {
        LeaseState::Granted => Style::default().fg(Color::Yellow),
        LeaseState::Authorized => Style::default().fg(Color::Green),
        LeaseState::Suspended => Style::default().fg(Color::Red),
        LeaseState::Expired => dim(),
    }
}

pub(super) fn render_chain(app: &App, panel: Panel, area: Rect, buf: &mut Buffer) {
    let Some((snap, inner)) = frame_panel(app, panel, String::new(), area, buf) else {
        return;
    };
    let c = &snap.chain;
    if c.height == 0 && c.recent_blocks.is_empty() {
        placeholder("no blocks yet", inner, buf);
        return;
    }
    let interval = match (c.mean_interval_ms, c.target_interval_ms) {
        (Some(m), Some(t)) => format!("{:.2} s (τ* {:.2} s)", m / 1000.0, t / 1000.0),
        (Some(m), None) => format!("{:.2} s", m / 1000.0),
        _ => String::from("—"),
    };
    let reorg_style = if c.reorgs > 0 {
        Style::default().fg(Color::Yellow)
    } else {
        Style::default()
    };
    // Label/value items, flowed into as many lines as the panel's width needs.
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let mut summary: Vec<Vec<Span>> = vec![
        vec![
            Span::styled("height ", dim()),
            Span::styled(c.height.to_string(), bold),
        ],
        vec![
            Span::styled("head ", dim()),
            Span::raw(format::short_hash(&c.head, 8).to_owned()),
        ],
        vec![Span::styled("interval ", dim()), Span::raw(interval)],
        vec![
            Span::styled("D_base ", dim()),
            Span::raw(format::difficulty(c.base_difficulty)),
        ],
        vec![
            Span::styled("forks ", dim()),
            Span::raw(c.forks.to_string()),
        ],
        vec![
            Span::styled("reorgs ", dim()),
            Span::styled(c.reorgs.to_string(), reorg_style),
            Span::styled(
                c.last_reorg_depth
                    .map_or(String::new(), |d| format!(" (depth {d})")),
                dim(),
            ),
        ],
    ];
    if let Some(h) = c.checkpoint_height {
        summary.push(vec![
            Span::styled("checkpoint ", dim()),
            Span::raw(h.to_string()),
        ]);
    }
    let summary = flow(summary, inner.width);
    let summary_h = u16::try_from(summary.len())
        .unwrap_or(u16::MAX)
        .min(inner.height);
    let [top, table_area] =
        Layout::vertical([Constraint::Length(summary_h), Constraint::Min(0)]).areas(inner);
    Paragraph::new(summary).render(top, buf);
    if c.recent_blocks.is_empty() {
        placeholder("no recent blocks", table_area, buf);
        return;
    }
    let miner_w = c
        .recent_blocks
        .iter()
        .map(|b| b.miner.chars().count())
        .max()
        .unwrap_or(5)
        .clamp(5, 12);
    let height_w = c.height.to_string().len().max(6);
    // Height, hash, miner, trust, difficulty, txs: the time column only when it fits.
    let fixed = height_w + 9 + miner_w + 5 + 6 + 3 + 6;
    let show_time = usize::from(table_area.width) >= fixed + 10;
    let rows: Vec<Row> = c
        .recent_blocks
        .iter()
        .skip(app.chain_scroll)
        .map(|b| {
            let hash = format!(
                "{}{}",
                format::short_hash(&b.hash, 8),
                if b.checkpoint { "◆" } else { "" }
            );
            let mut cells = vec![
                Cell::from(b.height.to_string()),
                Cell::from(hash),
                Cell::from(b.miner.clone()),
                Cell::from(format!("{:.2}", b.miner_trust))
                    .style(trust_style(b.miner_trust, snap.trust_threshold)),
                Cell::from(format::difficulty(b.difficulty)),
                Cell::from(b.txs.to_string()),
            ];
            if show_time {
                cells.push(Cell::from(format::clock(b.at_ms)).style(dim()));
            }
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(u16::try_from(height_w).unwrap_or(20)),
        Constraint::Length(9),
        Constraint::Length(u16::try_from(miner_w).unwrap_or(12)),
        Constraint::Length(5),
        Constraint::Length(6),
        Constraint::Length(3),
    ];
    let mut titles = vec!["Height", "Hash", "Miner", "Trust", "Diff", "Txs"];
    if show_time {
        widths.push(Constraint::Fill(1));
        titles.push("Time");
    }
    let header = Row::new(titles).style(header_style());
    Widget::render(
        Table::new(rows, widths).header(header).column_spacing(1),
        table_area,
        buf,
    );
}

pub(super) fn render_trust(app: &App, panel: Panel, area: Rect, buf: &mut Buffer) {
    let extra = app
        .feed()
        .snapshot
        .as_ref()
        .and_then(|s| s.trust_threshold)
        .map_or(String::new(), |t| format!("· select ≥ {t:.2}"));
    let Some((snap, inner)) = frame_panel(app, panel, extra, area, buf) else {
        return;
    };
    if snap.trust.is_empty() {
        placeholder("no trust records", inner, buf);
        return;
    }
    let node = app.selected_node();
    let node_w = snap
        .trust
        .iter()
        .map(|t| t.node.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 12);
    let class_w: u16 = if snap.trust.iter().any(|t| t.class.is_some()) {
        10
    } else {
        0
    };
    let roles_w: u16 = 6;
    // Node (with its selection mark), roles, class, value, and the four column gaps.
    let fixed = u16::try_from(node_w + 1).unwrap_or(13) + roles_w + class_w + 5 + 4;
    let spark_w = usize::from(inner.width.saturating_sub(fixed).max(1));
    let rows: Vec<Row> = snap
        .trust
        .iter()
        .map(|t| {
            let roles: Vec<&str> = t.roles.iter().map(|r| r.short()).collect();
            let mark = if t.selected { "•" } else { " " };
            Row::new(vec![
                Cell::from(format!("{mark}{}", t.node)),
                Cell::from(roles.join(",")).style(dim()),
                Cell::from(t.class.clone().unwrap_or_default()),
                Cell::from(format!("{:.3}", t.value))
                    .style(trust_style(t.value, snap.trust_threshold)),
                Cell::from(format::sparkline(&t.history, spark_w))
                    .style(trust_style(t.value, snap.trust_threshold)),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(u16::try_from(node_w + 1).unwrap_or(13)),
        Constraint::Length(roles_w),
        Constraint::Length(class_w),
        Constraint::Length(5),
        Constraint::Fill(1),
    ];
    let sel = node.and_then(|n| snap.trust.iter().position(|t| t.node == n));
    let mut state = TableState::default().with_selected(sel);
    let header = Row::new([" Node", "Roles", "Class", "Trust", "History"]).style(header_style());
    StatefulWidget::render(
        Table::new(rows, widths)
            .header(header)
            .column_spacing(1)
            .row_highlight_style(highlight(app, panel)),
        inner,
        buf,
        &mut state,
    );
}

pub(super) fn render_market(app: &App, panel: Panel, area: Rect, buf: &mut Buffer) {
    let Some((snap, inner)) = frame_panel(app, panel, String::new(), area, buf) else {
        return;
    };
    let decimals = snap.chain.coin_decimals;
    // Each table gets the rows it needs (plus its header) when both fit, else half each.
    let need_a = u16::try_from(snap.auctions.len().max(1) + 1).unwrap_or(u16::MAX);
    let need_l = u16::try_from(snap.leases.len().max(1) + 1).unwrap_or(u16::MAX);
    let a_h = if need_a.saturating_add(need_l) <= inner.height {
        need_a
    } else {
        (inner.height / 2).max(inner.height.saturating_sub(need_l))
    };
    let [a_area, l_area] =
        Layout::vertical([Constraint::Length(a_h), Constraint::Min(0)]).areas(inner);
    let sel = app.selected_channel();
    let row_style = |ch: &str| {
        if Some(ch) == sel {
            Style::default().add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        }
    };
    let ch_w = snap
        .auctions
        .iter()
        .map(|a| a.channel.chars().count())
        .chain(snap.leases.iter().map(|l| l.channel.chars().count()))
        .max()
        .unwrap_or(2)
        .clamp(2, 12);
    let ch_w = u16::try_from(ch_w).unwrap_or(12);
    // Narrow panels drop the round, the closing height and the MO's economics.
    let roomy = inner.width >= 50;
    if snap.auctions.is_empty() {
        placeholder("no auctions", a_area, buf);
    } else {
        // Running auctions first: with a big band plan the settled and skipped ones are
        // what scrolls out of view.
        let mut auctions: Vec<&crate::model::AuctionRow> = snap.auctions.iter().collect();
        auctions.sort_by_key(|a| phase_rank(a.phase));
        let rows: Vec<Row> = auctions
            .into_iter()
            .map(|a| {
                let ends = match a.phase {
                    AuctionPhase::Commit | AuctionPhase::Pending => format!("≤{}", a.commit_end),
                    AuctionPhase::Reveal => format!("≤{}", a.reveal_end),
                    _ => String::new(),
                };
                let mut cells = vec![Cell::from(a.channel.clone())];
                if roomy {
                    cells.push(Cell::from(a.round.to_string()));
                }
                cells.push(Cell::from(a.phase.label()).style(phase_style(a.phase)));
                cells.push(Cell::from(format!("{}/{}", a.revealed, a.commits)));
                if roomy {
                    cells.push(Cell::from(ends).style(dim()));
                }
                cells.push(Cell::from(a.winner.clone().unwrap_or_default()));
                cells.push(Cell::from(
                    a.price
                        .map_or(String::new(), |p| format::amount(p, decimals)),
                ));
                Row::new(cells).style(row_style(&a.channel))
            })
            .collect();
        let (titles, widths): (Vec<&str>, Vec<Constraint>) = if roomy {
            (
                vec!["Ch", "Rnd", "Phase", "Rev/Bid", "Ends", "Winner", "Price"],
                vec![
                    Constraint::Length(ch_w),
                    Constraint::Length(5),
                    Constraint::Length(7),
                    Constraint::Length(7),
                    Constraint::Length(6),
                    Constraint::Fill(1),
                    Constraint::Length(7),
                ],
            )
        } else {
            (
                vec!["Ch", "Phase", "Rev/Bid", "Winner", "Price"],
                vec![
                    Constraint::Length(ch_w),
                    Constraint::Length(7),
                    Constraint::Length(7),
                    Constraint::Fill(1),
                    Constraint::Length(7),
                ],
            )
        };
        Widget::render(
            Table::new(rows, widths)
                .header(Row::new(titles).style(header_style()))
                .column_spacing(1),
            a_area,
            buf,
        );
    }
    if snap.leases.is_empty() {
        placeholder("no leases", l_area, buf);
    } else {
        let rows: Vec<Row> = snap
            .leases
            .iter()
            .map(|l| {
                let econ = match (l.service_price, l.mining_share) {
                    (Some(p), Some(m)) => format!("{p:.3}/{m:.2}"),
                    (Some(p), None) => format!("{p:.3}"),
                    (None, Some(m)) => format!("m {m:.2}"),
                    (None, None) => String::new(),
                };
                let term = if roomy {
                    format!("{}–{}", l.from_height, l.until_height)
                } else {
                    format!("≤{}", l.until_height)
                };
                let mut cells = vec![
                    Cell::from(l.channel.clone()),
                    Cell::from(l.holder.clone()),
                    Cell::from(l.state.label()).style(lease_style(l.state)),
                    Cell::from(term),
                    Cell::from(format::amount(l.price, decimals)),
                ];
                if roomy {
                    cells.push(Cell::from(econ).style(dim()));
                }
                Row::new(cells).style(row_style(&l.channel))
            })
            .collect();
        let holder_w = snap
            .leases
            .iter()
            .map(|l| l.holder.chars().count())
            .max()
            .unwrap_or(6)
            .clamp(6, 12);
        let holder_w = u16::try_from(holder_w).unwrap_or(12);
        let (titles, widths): (Vec<&str>, Vec<Constraint>) = if roomy {
            (
                vec!["Ch", "Holder", "State", "Term", "Price", "pM / m"],
                vec![
                    Constraint::Length(ch_w),
                    Constraint::Length(holder_w),
                    Constraint::Length(7),
                    Constraint::Length(11),
                    Constraint::Length(7),
                    Constraint::Fill(1),
                ],
            )
        } else {
            (
                vec!["Ch", "Holder", "State", "Until", "Price"],
                vec![
                    Constraint::Length(ch_w),
                    Constraint::Length(holder_w),
                    Constraint::Length(7),
                    Constraint::Length(6),
                    Constraint::Fill(1),
                ],
            )
        };
        Widget::render(
            Table::new(rows, widths)
                .header(Row::new(titles).style(header_style()))
                .column_spacing(1),
            l_area,
            buf,
        );
    }
}

pub(super) fn render_log(app: &App, panel: Panel, area: Rect, buf: &mut Buffer) {
    let log = &app.feed().log;
    let extra = if app.log_scroll > 0 {
        format!("· ↑{} (End follows)", app.log_scroll.min(log.len()))
    } else {
        String::new()
    };
    let block = panel_block(app, panel, extra);
    let inner = block.inner(area);
    block.render(area, buf);
    if log.is_empty() {
        placeholder("no events yet", inner, buf);
        return;
    }
    let h = usize::from(inner.height);
    let scroll = app.log_scroll.min(log.len().saturating_sub(1));
    let end = log.len() - scroll;
    let start = end.saturating_sub(h);
    let lines: Vec<Line> = log
        .range(start..end)
        .map(|e| {
            let level_style = match e.line.level {
                Level::Error => Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
                Level::Warn => Style::default().fg(Color::Yellow),
                Level::Info => Style::default().fg(Color::Green),
                Level::Debug => dim(),
            };
            let mut spans = vec![
                Span::styled(format!("{} ", format::clock(e.line.at_ms)), dim()),
                Span::styled(format!("{} ", e.line.level.label()), level_style),
            ];
            if e.local {
                spans.push(Span::styled("ui: ", dim()));
            }
            spans.push(Span::raw(e.line.text.clone()));
            Line::from(spans)
        })
        .collect();
    Paragraph::new(lines).render(inner, buf);
}
