#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The panic hook the dashboard installs restores the terminal first and then hands the panic
//! to the hook that was there before (its own process: panic hooks are global).

use std::sync::{Arc, Mutex};

#[test]
fn chained_hook_runs_first_then_the_previous_one() {
    let order = Arc::new(Mutex::new(Vec::<String>::new()));
    let o = Arc::clone(&order);
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map_or_else(String::new, |s| (*s).to_owned());
        o.lock().unwrap().push(format!("previous: {msg}"));
    }));
    let o = Arc::clone(&order);
    tui::chain_panic_hook(move || o.lock().unwrap().push(String::from("restore")));
    let r = std::panic::catch_unwind(|| panic!("boom"));
    let _ = std::panic::take_hook();
    assert!(r.is_err());
    assert_eq!(
        *order.lock().unwrap(),
        vec![String::from("restore"), String::from("previous: boom")]
    );
}
