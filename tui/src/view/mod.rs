//! Drawing: `&App` is a ratatui [`Widget`] that lays out every panel for the terminal's size.
//!
//! Data flow: [`screen_layout`] turns the terminal area and the app's focus and zoom into one
//! rectangle per visible panel (a grid of all seven panels from [`WIDE_MIN`] up, one page at a
//! time with a tab bar below it, so every panel stays reachable at 80×24); each panel then draws
//! from [`App::feed`] (the frozen copy while paused). Nothing here mutates the app.

mod format;
mod spectrum;
mod tables;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget, Wrap};

pub use spectrum::{
    ColourDepth, ColourScale, GUTTER, HIGH_PERCENTILE, LOW_PERCENTILE, MIN_RANGE_DB, palette,
    resample,
};

use crate::app::{App, Link, Mode, Panel, node_names};

/// Smallest size drawn with the all-panels grid; below it, one page at a time.
pub const WIDE_MIN: (u16, u16) = (110, 32);
/// Smallest size drawn at all; below it, a one-line request to enlarge the terminal.
pub const MIN_SIZE: (u16, u16) = (40, 10);
/// Data older than this (ms) is flagged stale in the status line.
const STALE_MS: u64 = 5_000;
/// Body rows from which the compact layout shows channels and market on one page.
const PAIR_MIN_HEIGHT: u16 = 18;

/// How the screen is divided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutKind {
    /// All panels at once.
    Wide,
    /// One page (the focused panel's) at a time, with a tab bar.
    Compact,
    /// Too small to draw panels.
    TooSmall,
}

/// Where everything goes on the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenLayout {
    /// Grid, pages or nothing.
    pub kind: LayoutKind,
    /// Status line at the top.
    pub header: Rect,
    /// Tab bar (compact layout only).
    pub tabs: Option<Rect>,
    /// Key hints at the bottom.
    pub footer: Rect,
    /// Visible panels and their areas (borders included).
    pub panels: Vec<(Panel, Rect)>,
}

impl ScreenLayout {
    /// Area of `panel` if it is visible.
    pub fn area_of(&self, panel: Panel) -> Option<Rect> {
        self.panels
            .iter()
            .find(|(p, _)| *p == panel)
            .map(|(_, r)| *r)
    }
}

/// Lays out the screen for `area` given the app's focus and zoom.
pub fn screen_layout(app: &App, area: Rect) -> ScreenLayout {
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        return ScreenLayout {
            kind: LayoutKind::TooSmall,
            header: Rect::default(),
            tabs: None,
            footer: Rect::default(),
            panels: Vec::new(),
        };
    }
    let wide = area.width >= WIDE_MIN.0 && area.height >= WIDE_MIN.1;
    let (header, tabs, body, footer) = if wide {
        let [h, b, f] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(0),
            Constraint::Length(1),
        ])
        .areas(area);
        (h, None, b, f)
    } else {
        let [h, b, t, f] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(0),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(area);
        (h, Some(t), b, f)
    };
    let focus = app.focus;
    let panels = if app.zoom {
        vec![(focus, body)]
    } else if wide {
        let [top, bottom] =
            Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(body);
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(top);
        let [spec, wf] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(left);
        let [chan, market] =
            Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(right);
        let [chain, trust, log] = Layout::horizontal([
            Constraint::Ratio(1, 3),
            Constraint::Ratio(1, 3),
            Constraint::Ratio(1, 3),
        ])
        .areas(bottom);
        // Tab order is reading order: left column, right column, bottom row.
        vec![
            (Panel::Spectrum, spec),
            (Panel::Waterfall, wf),
            (Panel::Channels, chan),
            (Panel::Market, market),
            (Panel::Chain, chain),
            (Panel::Trust, trust),
            (Panel::Log, log),
        ]
    } else {
        // Spectrum and waterfall always share a page (same frequency axis, one above the
        // other); channels and the market do when there is room for both.
        let pair = match focus {
            Panel::Spectrum | Panel::Waterfall => Some((Panel::Spectrum, Panel::Waterfall, 50)),
            Panel::Channels | Panel::Market if body.height >= PAIR_MIN_HEIGHT => {
                Some((Panel::Channels, Panel::Market, 50))
            }
            _ => None,
        };
        match pair {
            Some((a, b, pct)) => {
                let [ra, rb] = Layout::vertical([
                    Constraint::Percentage(pct),
                    Constraint::Percentage(100 - pct),
                ])
                .areas(body);
                vec![(a, ra), (b, rb)]
            }
            None => vec![(focus, body)],
        }
    };
    ScreenLayout {
        kind: if wide {
            LayoutKind::Wide
        } else {
            LayoutKind::Compact
        },
        header,
        tabs,
        footer,
        panels,
    }
}

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        Clear.render(area, buf);
        let layout = screen_layout(self, area);
        if layout.kind == LayoutKind::TooSmall {
            let text = format!(
                "enlarge to {}x{} (now {}x{})",
                MIN_SIZE.0, MIN_SIZE.1, area.width, area.height
            );
            Paragraph::new(text)
                .wrap(Wrap { trim: true })
                .style(Style::default().fg(Color::Yellow))
                .render(area, buf);
            return;
        }
        render_header(self, layout.header, buf);
        if let Some(tabs) = layout.tabs {
            render_tabs(self, tabs, buf);
        }
        render_footer(self, layout.footer, buf);
        for (panel, rect) in &layout.panels {
            render_panel(self, *panel, *rect, buf);
        }
        if self.mode == Mode::Help {
            render_help(area, buf);
        }
    }
}

/// The panel's border, highlighted when focused.
fn panel_block(app: &App, panel: Panel, extra: String) -> Block<'static> {
    let focused = app.focus == panel;
    let border = if focused {
        Style::default().fg(Color::Cyan)
    } else {
        Style::default().fg(Color::DarkGray)
    };
    let title_style = if focused {
        Style::default()
            .fg(Color::Cyan)
            .add_modifier(Modifier::BOLD)
    } else {
        Style::default().fg(Color::Gray)
    };
    let n = Panel::ALL.iter().position(|&p| p == panel).unwrap_or(0) + 1;
    let mut title = vec![Span::styled(
        format!(" {n} {} ", panel.title()),
        title_style,
    )];
    if !extra.is_empty() {
        title.push(Span::styled(
            format!("{extra} "),
            Style::default().fg(Color::Gray),
        ));
    }
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(border)
        .title(Line::from(title))
}

fn render_panel(app: &App, panel: Panel, area: Rect, buf: &mut Buffer) {
    let feed = app.feed();
    let snap = feed.snapshot.as_ref();
    let node = app.selected_node();
    let channel = app.selected_channel();
    match panel {
        Panel::Spectrum => {
            let frame = snap.and_then(|s| {
                s.nodes
                    .iter()
                    .find(|n| Some(n.name.as_str()) == node)
                    .and_then(|n| n.spectrum.as_ref())
            });
            let extra = match (node, frame) {
                (Some(n), Some(f)) => format!("· {n} · {}", format::clock(f.at_ms)),
                (Some(n), None) => format!("· {n}"),
                _ => String::new(),
            };
            let block = panel_block(app, panel, extra);
            let inner = block.inner(area);
            block.render(area, buf);
            match (snap, frame) {
                (None, _) => spectrum::placeholder("no data yet", inner, buf),
                (Some(_), None) => spectrum::placeholder(
                    &format!("no spectrum from {}", node.unwrap_or("this node")),
                    inner,
                    buf,
                ),
                (Some(_), Some(f)) => spectrum::render_spectrum(f, channel, inner, buf),
            }
        }
        Panel::Waterfall => {
            let rows = node.and_then(|n| feed.waterfall.get(n));
            // Same axis as the spectrum panel when the node has a frame.
            let axis = snap
                .and_then(|s| s.nodes.iter().find(|n| Some(n.name.as_str()) == node))
                .and_then(|n| n.spectrum.as_ref())
                .map(|f| (f.low_hz(), f.high_hz()));
            // Draw first into a scratch area to learn the scale for the title.
            let block_area = area;
            let probe = panel_block(app, panel, String::new());
            let inner = probe.inner(block_area);
            let scale = match rows {
                Some(r) if !r.is_empty() => {
                    spectrum::render_waterfall(r, axis, app.options.colour, inner, buf)
                }
                _ => None,
            };
            let extra = match (node, scale, rows) {
                (Some(n), Some(s), Some(r)) => {
                    format!("· {n} · {:.0}…{:.0} dB · {} rows", s.lo, s.hi, r.len())
                }
                (Some(n), _, _) => format!("· {n}"),
                _ => String::new(),
            };
            panel_block(app, panel, extra).render(block_area, buf);
            if scale.is_none() {
                let text = match node {
                    Some(n) => format!("no waterfall rows from {n}"),
                    None => String::from("no data yet"),
                };
                spectrum::placeholder(&text, inner, buf);
            }
        }
        Panel::Channels => tables::render_channels(app, panel, area, buf),
        Panel::Chain => tables::render_chain(app, panel, area, buf),
        Panel::Trust => tables::render_trust(app, panel, area, buf),
        Panel::Market => tables::render_market(app, panel, area, buf),
        Panel::Log => tables::render_log(app, panel, area, buf),
    }
}

fn render_header(app: &App, area: Rect, buf: &mut Buffer) {
    let feed = app.feed();
    let snap = feed.snapshot.as_ref();
    let dim = Style::default().fg(Color::DarkGray);
    let mut left: Vec<Span> = vec![Span::styled(
        " trustband ",
        Style::default()
            .fg(Color::Cyan)
            .add_modifier(Modifier::BOLD),
    )];
    // Right side: link state first, since it decides how much room the node list gets.
    let mut right: Vec<Span> = Vec::new();
    if app.paused {
        right.push(Span::styled(
            format!(" ⏸ paused (+{}) ", app.behind),
            Style::default().fg(Color::Black).bg(Color::Yellow),
        ));
    }
    match &app.link {
        Link::Waiting => right.push(Span::styled(" … waiting for data ", dim)),
        // Age of the live data (not of the frozen copy while paused).
        Link::Up(_) => match app.live.received_at_ms {
            None => right.push(Span::styled(
                " ● connected ",
                Style::default().fg(Color::Green),
            )),
            Some(r) => {
                let age = app.clock_ms.saturating_sub(r);
                if age >= STALE_MS {
                    right.push(Span::styled(
                        format!(" ● stale {} ", format::age(age)),
                        Style::default().fg(Color::Yellow),
                    ));
                } else {
                    right.push(Span::styled(" ● live ", Style::default().fg(Color::Green)));
                }
            }
        },
        Link::Down(reason) => right.push(Span::styled(
            format!(" ✖ {reason} "),
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        )),
    }
    if let Some(s) = snap {
        let names = node_names(s);
        let sel = app.selected_node();
        let idx = sel.and_then(|n| names.iter().position(|&x| x == n));
        let node_row = s.nodes.iter().find(|n| Some(n.name.as_str()) == sel);
        let right_w: usize = right.iter().map(Span::width).sum();
        let mut stats: Vec<Span> = Vec::new();
        if let Some(nr) = node_row {
            stats.push(Span::raw(format!(" h {} ", nr.height)));
            stats.push(Span::styled(format!("· {} peers ", nr.peers), dim));
            if !nr.online {
                stats.push(Span::styled("offline ", Style::default().fg(Color::Red)));
            }
        }
        stats.push(Span::styled(format!("· {} ", format::clock(s.at_ms)), dim));
        let stats_w: usize = stats.iter().map(Span::width).sum();
        // The node list when it fits (←/→ move the highlight), else "‹name› i/n".
        let list_w: usize = names.iter().map(|n| n.chars().count() + 1).sum::<usize>() + 1;
        let room = usize::from(area.width).saturating_sub(11 + right_w + stats_w);
        if list_w <= room {
            left.push(Span::raw(" "));
            for n in &names {
                if Some(*n) == sel {
                    left.push(Span::styled(
                        (*n).to_owned(),
                        Style::default()
                            .fg(Color::Black)
                            .bg(Color::Cyan)
                            .add_modifier(Modifier::BOLD),
                    ));
                } else {
                    left.push(Span::styled(
                        (*n).to_owned(),
                        Style::default().fg(Color::Gray),
                    ));
                }
                left.push(Span::raw(" "));
            }
        } else if let (Some(n), Some(i)) = (sel, idx) {
            left.push(Span::styled(
                format!(" ‹{n}› "),
                Style::default()
                    .fg(Color::Cyan)
                    .add_modifier(Modifier::BOLD),
            ));
            left.push(Span::styled(format!("{}/{} ", i + 1, names.len()), dim));
        }
        left.extend(stats);
    }
    Line::from(left).render(area, buf);
    let right = Line::from(right);
    let w = u16::try_from(right.width())
        .unwrap_or(u16::MAX)
        .min(area.width);
    let r = Rect {
        x: area.right().saturating_sub(w),
        width: w,
        ..area
    };
    right.render(r, buf);
}

/// Short tab labels so all seven fit in 80 columns.
fn tab_label(p: Panel) -> &'static str {
    match p {
        Panel::Spectrum => "Spectrum",
        Panel::Waterfall => "Waterfall",
        Panel::Channels => "Channels",
        Panel::Chain => "Chain",
        Panel::Trust => "Trust",
        Panel::Market => "Market",
        Panel::Log => "Log",
    }
}

fn render_tabs(app: &App, area: Rect, buf: &mut Buffer) {
    let mut spans = Vec::new();
    for (i, p) in Panel::ALL.iter().enumerate() {
        let style = if *p == app.focus {
            Style::default()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().fg(Color::Gray)
        };
        spans.push(Span::styled(format!("{} {}", i + 1, tab_label(*p)), style));
        spans.push(Span::styled(" │ ", Style::default().fg(Color::DarkGray)));
    }
    spans.pop();
    Line::from(spans).render(area, buf);
}

fn render_footer(app: &App, area: Rect, buf: &mut Buffer) {
    let key = Style::default().fg(Color::Cyan);
    let dim = Style::default().fg(Color::DarkGray);
    let hints: [(&str, &str); 7] = [
        ("Tab", "panel"),
        ("←→", "node"),
        ("↑↓", list_hint(app.focus)),
        ("z", "zoom"),
        ("p", if app.paused { "resume" } else { "pause" }),
        ("?", "help"),
        ("q", "quit"),
    ];
    let mut spans = vec![Span::raw(" ")];
    for (k, what) in hints {
        spans.push(Span::styled(k, key));
        spans.push(Span::styled(format!(" {what}  "), dim));
    }
    Line::from(spans).render(area, buf);
    if let Some(n) = &app.notice {
        let used: u16 = 68;
        if area.width > used + 10 {
            let r = Rect {
                x: area.x + used,
                width: area.width - used,
                ..area
            };
            Line::from(Span::styled(n.clone(), Style::default().fg(Color::Yellow))).render(r, buf);
        }
    }
}

fn list_hint(p: Panel) -> &'static str {
    match p {
        Panel::Trust => "node",
        Panel::Log | Panel::Chain => "scroll",
        _ => "channel",
    }
}

const HELP: &[(&str, &str)] = &[
    ("Tab / Shift-Tab", "next / previous panel"),
    ("1 … 7", "jump to a panel"),
    ("← → (n N)", "select node"),
    ("↑ ↓ (j k)", "channel; node in Trust; scroll in Chain, Log"),
    ("c C", "next / previous channel anywhere"),
    ("PgUp PgDn", "scroll Chain and Log by 10"),
    ("Home End", "Log: oldest / follow newest"),
    ("z  Enter", "zoom the focused panel (Esc leaves)"),
    ("p  Space", "pause: freeze the view, keep receiving"),
    ("?  Esc", "this help"),
    ("q  Ctrl-C", "quit"),
];

fn render_help(area: Rect, buf: &mut Buffer) {
    let w = area.width.min(64);
    let h = area.height.min(u16::try_from(HELP.len()).unwrap_or(20) + 8);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    Clear.render(r, buf);
    let key = Style::default()
        .fg(Color::Cyan)
        .add_modifier(Modifier::BOLD);
    let mut lines: Vec<Line> = HELP
        .iter()
        .map(|(k, v)| Line::from(vec![Span::styled(format!("{k:<17}"), key), Span::raw(*v)]))
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled("━ PSD ", Style::default().fg(Color::Green)),
        Span::styled("━ noise ", Style::default().fg(Color::Blue)),
        Span::styled("━ threshold ", Style::default().fg(Color::Yellow)),
        Span::styled("━ busy ", Style::default().fg(Color::Red)),
        Span::styled("│ edges", Style::default().fg(Color::DarkGray)),
    ]));
    lines.push(Line::from(vec![
        Span::raw("decisions "),
        Span::styled("■", Style::default().fg(Color::Red)),
        Span::raw(" busy "),
        Span::styled("□", Style::default().fg(Color::Green)),
        Span::raw(" idle "),
        Span::styled("·", Style::default().fg(Color::DarkGray)),
        Span::raw(" no report"),
    ]));
    Paragraph::new(lines)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_type(BorderType::Double)
                .border_style(Style::default().fg(Color::Cyan))
                .title(" keys · ? or Esc to close "),
        )
        .render(r, buf);
}
