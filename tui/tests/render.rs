#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Rendering tests: whole-screen snapshots of a fixed demo state at 80×24 and 120×40 (insta,
//! `tests/snapshots/`), "no data" states, every panel reachable at 80×24, resizing, help,
//! pause, and no panic at any size or on hostile values.

use proptest::prelude::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::widgets::Widget;
use tui::model::{
    AuctionPhase, AuctionRow, BlockRow, ChannelEdge, ChannelRow, LeaseRow, LeaseState, Level,
    LogLine, NodeReading, NodeRow, SpectrumFrame, TrustRow,
};
use tui::{App, LayoutKind, Panel, Snapshot, UiEvent, demo_row, demo_snapshot, screen_layout};

/// Demo time of the fixed state: round 40, mid-reveal.
const T: u64 = 203_500;

fn key(code: KeyCode) -> UiEvent {
    UiEvent::Input(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

/// The demo at `T` with 3 s of waterfall rows for every sensing node.
fn demo_app() -> App {
    let mut app = App::default();
    let snap = demo_snapshot(1, T);
    for n in &snap.nodes {
        let rows: Vec<_> = (0..30)
            .filter_map(|k| demo_row(1, &n.name, T - 3_000 + k * 100))
            .collect();
        if !rows.is_empty() {
            app.handle(UiEvent::Rows {
                node: n.name.clone(),
                rows,
            });
        }
    }
    app.handle(UiEvent::Connected("127.0.0.1:7040".into()));
    app.handle(UiEvent::Snapshot(Box::new(snap)));
    app
}

fn draw(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| f.render_widget(app, f.area())).unwrap();
    t
}

fn text(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let mut s = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

fn line(t: &Terminal<TestBackend>, y: u16) -> String {
    let buf = t.backend().buffer();
    (0..buf.area.width)
        .map(|x| buf[(x, y)].symbol().to_owned())
        .collect()
}

#[test]
fn wide_120x40_shows_every_panel() {
    let app = demo_app();
    let t = draw(&app, 120, 40);
    let s = text(&t);
    for p in Panel::ALL {
        assert!(s.contains(p.title()), "{:?} missing:\n{s}", p);
    }
    assert!(line(&t, 0).contains("● live"));
    assert!(line(&t, 39).contains("q quit"));
    insta::assert_snapshot!("demo_120x40", t.backend());
}

#[test]
fn compact_80x24_pages() {
    let mut app = demo_app();
    let t = draw(&app, 80, 24);
    assert_eq!(
        screen_layout(&app, Rect::new(0, 0, 80, 24)).kind,
        LayoutKind::Compact
    );
    insta::assert_snapshot!("demo_80x24_spectrum", t.backend());
    // The tab bar lists every panel, the focused one first here.
    let tabs = line(&t, 22);
    for tab in [
        "1 Spectrum",
        "2 Waterfall",
        "3 Channels",
        "4 Market",
        "5 Chain",
        "6 Trust",
        "7 Log",
    ] {
        assert!(tabs.contains(tab), "{tab} not in {tabs}");
    }
    app.handle(key(KeyCode::Char('3')));
    let t = draw(&app, 80, 24);
    insta::assert_snapshot!("demo_80x24_channels_market", t.backend());
    for (k, name) in [('5', "chain"), ('6', "trust"), ('7', "log")] {
        app.handle(key(KeyCode::Char(k)));
        let t = draw(&app, 80, 24);
        insta::assert_snapshot!(format!("demo_80x24_{name}"), t.backend());
    }
}

#[test]
fn every_panel_is_reachable_at_80x24_with_tab_alone() {
    let mut app = demo_app();
    let area = Rect::new(0, 0, 80, 24);
    for _ in 0..Panel::ALL.len() {
        let focus = app.focus();
        let layout = screen_layout(&app, area);
        let r = layout.area_of(focus).expect("focused panel visible");
        assert!(r.width >= 40 && r.height >= 8, "{focus:?} too small: {r:?}");
        let t = draw(&app, 80, 24);
        assert!(text(&t).contains(focus.title()), "{focus:?}");
        app.handle(key(KeyCode::Tab));
    }
    assert_eq!(app.focus(), Panel::Spectrum);
}

#[test]
fn no_data_states_are_explicit() {
    let app = App::default();
    let t = draw(&app, 120, 40);
    let s = text(&t);
    assert!(s.contains("waiting for data"), "{s}");
    assert!(s.matches("no data yet").count() >= 5, "{s}");
    assert!(s.contains("no events yet"), "{s}");
    insta::assert_snapshot!("empty_120x40", t.backend());
    let t = draw(&app, 80, 24);
    insta::assert_snapshot!("empty_80x24", t.backend());

    // A snapshot with nodes but nothing else: each panel says what is missing.
    let mut app = App::default();
    app.handle(UiEvent::Snapshot(Box::new(Snapshot {
        node: "lonely".into(),
        nodes: vec![NodeRow {
            name: "lonely".into(),
            ..NodeRow::default()
        }],
        ..Snapshot::default()
    })));
    let s = text(&draw(&app, 120, 40));
    for want in [
        "no spectrum from lonely",
        "no waterfall rows from lonely",
        "no channels in the band plan",
        "no blocks yet",
        "no trust records",
        "no auctions",
        "no leases",
    ] {
        assert!(s.contains(want), "{want} missing:\n{s}");
    }
}

#[test]
fn resize_from_120x40_to_80x24_and_back() {
    let app = demo_app();
    let mut t = Terminal::new(TestBackend::new(120, 40)).unwrap();
    t.draw(|f| f.render_widget(&app, f.area())).unwrap();
    assert!(text(&t).contains("Auctions & leases"));
    t.backend_mut().resize(80, 24);
    t.draw(|f| f.render_widget(&app, f.area())).unwrap();
    assert_eq!(t.backend().buffer().area, Rect::new(0, 0, 80, 24));
    assert!(line(&t, 22).contains("1 Spectrum"), "tab bar after resize");
    t.backend_mut().resize(30, 8);
    t.draw(|f| f.render_widget(&app, f.area())).unwrap();
    assert!(text(&t).contains("enlarge"));
    t.backend_mut().resize(120, 40);
    t.draw(|f| f.render_widget(&app, f.area())).unwrap();
    assert!(text(&t).contains("Auctions & leases"));
}

#[test]
fn help_overlay_and_pause_banner() {
    let mut app = demo_app();
    app.handle(key(KeyCode::Char('?')));
    let t = draw(&app, 80, 24);
    let s = text(&t);
    assert!(s.contains("keys · ? or Esc to close"), "{s}");
    assert!(s.contains("freeze the view"), "{s}");
    insta::assert_snapshot!("help_80x24", t.backend());
    app.handle(key(KeyCode::Esc));
    app.handle(key(KeyCode::Char('p')));
    app.handle(UiEvent::Snapshot(Box::new(demo_snapshot(1, T + 1_000))));
    app.handle(UiEvent::Snapshot(Box::new(demo_snapshot(1, T + 2_000))));
    let t = draw(&app, 120, 40);
    assert!(line(&t, 0).contains("paused (+2)"), "{}", line(&t, 0));
    assert!(line(&t, 39).contains("p resume"));
}

#[test]
fn zoom_fills_the_body_with_the_focused_panel() {
    let mut app = demo_app();
    app.handle(key(KeyCode::Char('6')));
    app.handle(key(KeyCode::Char('z')));
    let layout = screen_layout(&app, Rect::new(0, 0, 120, 40));
    assert_eq!(layout.panels.len(), 1);
    assert_eq!(layout.panels[0], (Panel::Trust, Rect::new(0, 1, 120, 38)));
}

#[test]
fn old_data_is_flagged_stale_but_not_while_merely_paused() {
    let mut app = demo_app();
    app.set_clock(2_000);
    assert!(line(&draw(&app, 120, 40), 0).contains("● live"));
    app.set_clock(65_000);
    assert!(line(&draw(&app, 120, 40), 0).contains("stale 65s"));
    app.handle(key(KeyCode::Char('p')));
    app.handle(UiEvent::Snapshot(Box::new(demo_snapshot(1, T + 1_000))));
    app.set_clock(66_000);
    let top = line(&draw(&app, 120, 40), 0);
    assert!(
        top.contains("● live") && top.contains("paused (+1)"),
        "{top}"
    );
}

#[test]
fn disconnect_keeps_the_data_and_says_why() {
    let mut app = demo_app();
    app.handle(UiEvent::Disconnected(
        "127.0.0.1:7040: connection refused".into(),
    ));
    let t = draw(&app, 120, 40);
    assert!(
        line(&t, 0).contains("connection refused"),
        "{}",
        line(&t, 0)
    );
    assert!(text(&t).contains("ch-a"), "data still shown");
}

#[test]
fn waterfall_cells_are_coloured_half_blocks() {
    let app = demo_app();
    let t = draw(&app, 120, 40);
    let layout = screen_layout(&app, Rect::new(0, 0, 120, 40));
    let r = layout.area_of(Panel::Waterfall).unwrap();
    let buf = t.backend().buffer();
    // First data cell: right of the border and the gutter, below the border.
    let x0 = r.x + 1 + tui::view::GUTTER;
    let y0 = r.y + 1;
    let mut colours = std::collections::BTreeSet::new();
    for x in x0..r.right() - 1 {
        let c = &buf[(x, y0)];
        assert_eq!(c.symbol(), "▀");
        assert!(matches!(c.fg, Color::Rgb(..)), "{:?}", c.fg);
        assert!(matches!(c.bg, Color::Rgb(..)), "{:?}", c.bg);
        colours.insert(format!("{:?}", c.fg));
    }
    // Noise and four channel shapes: many distinct colours across a row.
    assert!(colours.len() >= 5, "{colours:?}");
}

#[test]
fn selected_node_drives_spectrum_and_channel_energy() {
    let mut app = demo_app();
    app.handle(key(KeyCode::Right));
    assert_eq!(app.selected_node(), Some("n2"));
    let s = text(&draw(&app, 120, 40));
    assert!(s.contains("Spectrum · n2"), "{s}");
    assert!(s.contains("E n2"), "{s}");
}

fn hostile_snapshot() -> Snapshot {
    let weird = [
        "",
        "\u{1b}[31mred",
        "名前名前名前名前名前名前名前名前",
        "x\ny\tz",
    ];
    let mut s = Snapshot {
        at_ms: u64::MAX,
        node: weird[2].into(),
        trust_threshold: Some(f32::NAN),
        ..Snapshot::default()
    };
    for (i, w) in weird.iter().enumerate() {
        s.nodes.push(NodeRow {
            name: (*w).to_owned(),
            height: u64::MAX,
            peers: u32::MAX,
            trust: Some(f32::INFINITY),
            balance: u128::MAX,
            spectrum: Some(SpectrumFrame {
                at_ms: i as u64,
                center_hz: [f64::NAN, 0.0, 1e300, -5.0][i],
                span_hz: [1.0, -1.0, f64::INFINITY, 0.0][i],
                psd_db: vec![f32::NAN, f32::INFINITY, -f32::INFINITY, 1e30][..i].to_vec(),
                noise_db: vec![f32::NAN; i * 3],
                channels: vec![ChannelEdge {
                    name: (*w).to_owned(),
                    low_hz: f64::NAN,
                    high_hz: f64::NEG_INFINITY,
                    threshold_db: Some(f32::NAN),
                    ..ChannelEdge::default()
                }],
            }),
            ..NodeRow::default()
        });
        s.channels.push(ChannelRow {
            name: (*w).to_owned(),
            center_hz: f64::NAN,
            bandwidth_hz: -1.0,
            per_node: vec![NodeReading {
                node: (*w).to_owned(),
                energy_db: f32::NAN,
                threshold_db: Some(f32::INFINITY),
                busy: true,
            }],
            fused: Some(true),
            round: Some(u64::MAX),
        });
        s.trust.push(TrustRow {
            node: (*w).to_owned(),
            class: Some((*w).to_owned()),
            value: f32::NAN,
            history: vec![f32::NAN, -1.0, 2.0, f32::INFINITY],
            ..TrustRow::default()
        });
        s.auctions.push(AuctionRow {
            channel: (*w).to_owned(),
            round: u64::MAX,
            phase: AuctionPhase::Settled,
            commit_end: u64::MAX,
            reveal_end: 0,
            commits: u32::MAX,
            revealed: u32::MAX,
            reserve: u128::MAX,
            winner: Some((*w).to_owned()),
            price: Some(u128::MAX),
        });
        s.leases.push(LeaseRow {
            channel: (*w).to_owned(),
            holder: (*w).to_owned(),
            state: LeaseState::Suspended,
            from_height: u64::MAX,
            until_height: 0,
            price: u128::MAX,
            service_price: Some(f64::NAN),
            mining_share: Some(f64::INFINITY),
        });
        s.log.push(LogLine {
            seq: i as u64,
            at_ms: u64::MAX,
            level: Level::Error,
            text: (*w).repeat(50),
        });
    }
    s.chain.height = u64::MAX;
    s.chain.mean_interval_ms = Some(f64::NAN);
    s.chain.coin_decimals = 255;
    s.chain.recent_blocks = vec![
        BlockRow {
            height: u64::MAX,
            miner: weird[2].into(),
            miner_trust: f32::NAN,
            difficulty: u64::MAX,
            txs: u32::MAX,
            at_ms: u64::MAX,
            ..BlockRow::default()
        };
        3
    ];
    s
}

#[test]
fn hostile_values_render_without_panic() {
    let mut app = App::default();
    app.handle(UiEvent::Snapshot(Box::new(hostile_snapshot())));
    for _ in 0..Panel::ALL.len() {
        for (w, h) in [(120, 40), (80, 24), (200, 60), (41, 11)] {
            let t = draw(&app, w, h);
            assert!(text(&t).contains(app.focus().title()));
        }
        app.handle(key(KeyCode::Tab));
        app.handle(key(KeyCode::Right));
        app.handle(key(KeyCode::Down));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn any_size_any_focus_renders(
        w in 0u16..220,
        h in 0u16..70,
        focus in 0usize..7,
        zoom in any::<bool>(),
        help in any::<bool>(),
        empty in any::<bool>(),
    ) {
        let mut app = if empty { App::default() } else { demo_app() };
        app.handle(key(KeyCode::Char(char::from(b'1' + focus as u8))));
        if zoom {
            app.handle(key(KeyCode::Char('z')));
        }
        if help {
            app.handle(key(KeyCode::Char('?')));
        }
        let area = Rect::new(0, 0, w, h);
        let mut buf = Buffer::empty(area);
        (&app).render(area, &mut buf);
        let layout = screen_layout(&app, area);
        for (_, r) in &layout.panels {
            prop_assert!(area.contains(r.as_position()) || r.is_empty());
            prop_assert!(r.right() <= area.right() && r.bottom() <= area.bottom());
        }
        if layout.kind != LayoutKind::TooSmall {
            prop_assert!(layout.area_of(app.focus()).is_some());
        }
    }
}
