//! The process-wide log callback (its own test binary: the callback is global).

mod common;
use common::*;

use frozen::{Lm, LogLevel};
use std::sync::{Arc, Mutex};

#[test]
fn log_callback_receives_lines_and_can_be_cleared() {
    let lines = Arc::new(Mutex::new(Vec::<(LogLevel, String)>::new()));
    let sink = Arc::clone(&lines);
    frozen::set_log_callback(move |level, text| sink.lock().unwrap().push((level, text.to_string())), LogLevel::Debug);
    drop(Lm::load(lm_dir()).unwrap());
    let n = lines.lock().unwrap().len();
    assert!(n > 0, "loading a model logs");
    assert!(lines.lock().unwrap().iter().any(|(_, t)| t.contains("gpt2-f32")), "{:?}", lines.lock().unwrap());

    // Above max_level nothing arrives.
    frozen::set_log_callback(|level, _| assert!(level <= LogLevel::Error), LogLevel::Error);
    drop(Lm::load(lm_dir()).unwrap());

    // A panicking logger never unwinds through C.
    frozen::set_log_callback(|_, _| panic!("logger"), LogLevel::Debug);
    drop(Lm::load(lm_dir()).unwrap());

    frozen::clear_log_callback();
    let before = lines.lock().unwrap().len();
    drop(Lm::load(lm_dir()).unwrap());
    assert_eq!(lines.lock().unwrap().len(), before);
}
