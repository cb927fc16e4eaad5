//! The language model through the safe wrapper, against the raw C API and the `frozen` CLI.

mod common;
use common::*;

use frozen::{sys, GenerateParams, Input, Lm, LogitsMode, Session, Status};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};

fn lm() -> Lm {
    Lm::load(lm_dir()).expect("the fixture model loads")
}

#[test]
fn version_and_properties() {
    assert_eq!(frozen::version_number(), sys::FRZ_VERSION_NUMBER);
    assert_eq!(frozen::version_string(), sys::FRZ_VERSION_STRING);
    assert!(!frozen::blas_corename().is_empty());
    let m = lm();
    assert_eq!((m.n_layer(), m.n_embd(), m.n_vocab(), m.n_ctx()), (2, 48, 457, 64));
    assert_eq!(m.eot_token(), Some(456));
}

#[test]
fn tokenize_equals_the_c_api_and_the_cli() {
    let m = lm();
    let texts: [&[u8]; 5] = [
        b"Hello, my dog",
        "Grüße, 世界! naïve café 🙂\nsecond".as_bytes(),
        b"bad \xff\xfe utf8",
        b"",
        b"<|endoftext|> and more",
    ];
    for t in texts {
        for special in [false, true] {
            let mut want = vec![0i32; t.len() + 1];
            let mut n = 0usize;
            let flags = if special { sys::FRZ_TOKENIZE_SPECIAL } else { 0 };
            // SAFETY: t.len() bytes in, want.len() ids out.
            let st = unsafe {
                sys::frz_tokenize(m.as_ptr(), t.as_ptr().cast(), t.len(), flags, want.as_mut_ptr(), want.len(), &mut n)
            };
            assert_eq!(st, sys::FRZ_OK);
            want.truncate(n);
            let got = m.tokenize_bytes(t, special).unwrap();
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(t));
            assert_eq!(m.detokenize(&got).unwrap(), t, "round trip");
        }
    }
    assert_eq!(m.tokenize_bytes(b"<|endoftext|>", true).unwrap(), vec![456]);
    assert!(m.tokenize("<|endoftext|>").unwrap().len() > 1);
    let lm_path = lm_dir();
    let cli_ids = parse_ids(&run_cli(&["tokenize", "--lm", lm_path.to_str().unwrap(), "Hello, my dog"]));
    assert_eq!(m.tokenize("Hello, my dog").unwrap(), cli_ids);
}

#[test]
fn generate_equals_the_cli() {
    let m = lm();
    let mut s = Session::new(&m).unwrap();
    s.set_threads(1).unwrap();
    let prompt = "Hello, my dog";
    let dir = lm_dir();
    let base = ["generate", "--lm", dir.to_str().unwrap(), "--prompt", prompt, "--ids", "--threads", "1"];

    let toks = m.tokenize(prompt).unwrap();
    s.eval_tokens(0, &toks, LogitsMode::None).unwrap();
    let greedy = s.generate(0, &GenerateParams { max_tokens: 12, ..Default::default() }).unwrap();
    assert_eq!(greedy.len(), 12);
    assert_eq!(greedy, parse_ids(&run_cli(&[&base[..], &["--max-tokens", "12"]].concat())));
    assert_eq!(s.seq_len(0), Some(toks.len() + 12));

    s.truncate(0, 0).unwrap();
    s.set_seed(7).unwrap();
    s.eval_tokens(0, &toks, LogitsMode::None).unwrap();
    let p = GenerateParams { max_tokens: 16, temperature: 0.8, top_k: 40, ..Default::default() };
    let sampled = s.generate(0, &p).unwrap();
    let args = ["--max-tokens", "16", "--temperature", "0.8", "--top-k", "40", "--seed", "7"];
    assert_eq!(sampled, parse_ids(&run_cli(&[&base[..], &args[..]].concat())));
}

#[test]
fn generate_streams_stops_and_honours_stop_strings() {
    let m = lm();
    let mut s = Session::new(&m).unwrap();
    let toks = m.tokenize("Hello, my dog").unwrap();
    s.eval_tokens(0, &toks, LogitsMode::Last).unwrap();
    let mut seen = Vec::new();
    let out = s
        .generate_with(0, &GenerateParams { max_tokens: 10, ..Default::default() }, |t| {
            seen.push(t);
            if seen.len() == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(out, seen);
    assert_eq!(out.len(), 3);

    let all = GenerateParams { max_tokens: 12, ..Default::default() };
    s.truncate(0, 0).unwrap();
    s.eval_tokens(0, &toks, LogitsMode::Last).unwrap();
    let full = m.detokenize(&s.generate(0, &all).unwrap()).unwrap();
    // Stop strings are text: take two ASCII bytes past the start of the (tiny model's byte soup) output.
    let at = (1..full.len() - 1).find(|&i| full[i].is_ascii() && full[i + 1].is_ascii()).expect("two ASCII bytes");
    let stop = full[at..at + 2].to_vec();
    s.truncate(0, 0).unwrap();
    s.eval_tokens(0, &toks, LogitsMode::Last).unwrap();
    let p = GenerateParams { stop: vec![String::from_utf8(stop.clone()).unwrap()], ..all };
    let cut = m.detokenize(&s.generate(0, &p).unwrap()).unwrap();
    assert!(full.starts_with(&cut) && !cut.windows(2).any(|w| w == stop.as_slice()), "{cut:?} {full:?}");
}

#[test]
fn score_equals_the_cli_and_the_logits() {
    let m = lm();
    let mut s = Session::new(&m).unwrap();
    s.set_threads(1).unwrap();
    let (ctx, cont) = ("Hello, my", " dog is");
    s.eval_tokens(0, &m.tokenize(ctx).unwrap(), LogitsMode::Last).unwrap();
    let logits = s.logits(0).unwrap().to_vec();
    assert!(s.logits(1).is_none());
    assert_eq!(logits.len(), 457);
    let ct = m.tokenize(cont).unwrap();
    let r = s.score(0, &ct).unwrap();
    assert_eq!(r.per_token.len(), ct.len());
    assert!((r.per_token.iter().map(|&v| v as f64).sum::<f64>() - r.total).abs() < 1e-4);
    assert_eq!(s.seq_len(0), Some(m.tokenize(ctx).unwrap().len()), "score keeps the sequence");
    let dir = lm_dir();
    let out =
        run_cli(&["score", "--lm", dir.to_str().unwrap(), "--context", ctx, "--continuation", cont, "--threads", "1"]);
    let want: f64 = out.lines().next().unwrap().parse().unwrap();
    assert!((r.total - want).abs() < 2e-6, "{} vs the CLI's {want}", r.total);
    // The first continuation token's score is the log-softmax of the context's last logits.
    let mx = logits.iter().cloned().fold(f32::MIN, f32::max) as f64;
    let z: f64 = logits.iter().map(|&v| (v as f64 - mx).exp()).sum();
    let lp = logits[ct[0] as usize] as f64 - mx - z.ln();
    assert!((lp - r.per_token[0] as f64).abs() < 1e-4, "{lp} vs {}", r.per_token[0]);
}

#[test]
fn batched_eval_of_two_slots_equals_separate_evals() {
    let m = lm();
    let mut s = Session::new(&m).unwrap();
    s.set_max_seqs(2).unwrap();
    let (a, b) = (m.tokenize("Hello, my dog").unwrap(), m.tokenize("A small red").unwrap());
    s.eval(&[Input::tokens(0, &a), Input::tokens(1, &b)], LogitsMode::Last).unwrap();
    let rows = [s.logits(0).unwrap().to_vec(), s.logits(1).unwrap().to_vec()];
    let mut t = Session::new(&m).unwrap();
    for (tokens, row) in [(&a, &rows[0]), (&b, &rows[1])] {
        t.truncate(-1, 0).unwrap();
        t.eval_tokens(0, tokens, LogitsMode::Last).unwrap();
        let want = t.logits(0).unwrap();
        let err = row.iter().zip(want).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(err < 1e-4, "batched vs alone: {err}");
    }
}

#[test]
fn errors_carry_status_and_message() {
    let e = Lm::load("/nonexistent/model").err().expect("an error");
    assert_eq!(e.status(), Status::Io);
    assert!(e.message().contains("/nonexistent/model"), "{e}");
    assert!(e.to_string().starts_with(&Status::Io.text()), "{e}");

    let m = lm();
    assert_eq!(m.detokenize(&[1, 99999]).unwrap_err().status(), Status::InvalidArg);
    let mut s = Session::new(&m).unwrap();
    assert_eq!(s.set_threads(0).unwrap_err().status(), Status::InvalidArg);
    assert_eq!(s.generate(0, &GenerateParams::default()).unwrap_err().status(), Status::InvalidArg);
    assert_eq!(s.eval_tokens(0, &[11; 65], LogitsMode::Last).unwrap_err().status(), Status::ContextFull);
    let e = s.eval_embeddings(0, &[0.0; 47], LogitsMode::Last).unwrap_err();
    assert!(e.status() == Status::Shape && e.message().contains("47 floats"), "{e}");
    let e = s.eval(&[Input::mixed(0, &[1, -1], &[0.0; 48])], LogitsMode::Last).unwrap_err();
    assert!(e.status() == Status::Shape && e.message().contains("96 floats"), "{e}");
    let p = GenerateParams { stop: vec!["a\0b".into()], ..Default::default() };
    s.eval_tokens(0, &[11], LogitsMode::Last).unwrap();
    assert!(s.generate(0, &p).unwrap_err().message().contains("NUL"));
    // The thread's last error is the library's own message.
    assert!(Lm::load("/nonexistent/other").is_err());
    assert!(frozen::last_error().contains("/nonexistent/other"));
}

#[test]
fn abort_callback_cancels_and_panics_resume() {
    // What the callbacks borrow must outlive the model they are given with (the session's 'm).
    let (polls, tokens) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let m = lm();
    let mut s = Session::new(&m).unwrap();
    let toks = m.tokenize("Hello, my dog").unwrap();
    s.set_abort(|| {
        polls.fetch_add(1, Ordering::SeqCst);
        true
    });
    assert_eq!(s.eval_tokens(0, &toks, LogitsMode::Last).unwrap_err().status(), Status::Cancelled);
    assert!(polls.load(Ordering::SeqCst) >= 1);
    assert_eq!(s.seq_len(0), Some(0), "a cancelled eval leaves the sequence unchanged");

    // Abort during generation: the sequence holds exactly the tokens passed to on_token.
    s.clear_abort();
    s.eval_tokens(0, &toks, LogitsMode::Last).unwrap();
    s.set_abort(|| tokens.load(Ordering::SeqCst) >= 4);
    let e = s
        .generate_with(0, &GenerateParams { max_tokens: 20, ..Default::default() }, |_| {
            tokens.fetch_add(1, Ordering::SeqCst);
            ControlFlow::Continue(())
        })
        .unwrap_err();
    assert_eq!(e.status(), Status::Cancelled);
    assert_eq!(tokens.load(Ordering::SeqCst), 4);
    assert_eq!(s.seq_len(0), Some(toks.len() + 4));

    // A panic inside the callback stops the call and resumes in the caller, not through C.
    s.set_abort(|| panic!("from the abort callback"));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.eval_tokens(0, &[11], LogitsMode::Last)));
    let msg = r.unwrap_err().downcast::<&str>().map(|b| *b).unwrap_or("?");
    assert_eq!(msg, "from the abort callback");
    s.clear_abort();
    s.eval_tokens(0, &[11], LogitsMode::Last).expect("usable again");
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        s.generate_with(0, &GenerateParams::default(), |_| panic!("from on_token"))
    }));
    assert!(r.is_err());
}

// The header's threading rules as types: a model is shared by threads, each with its own session.
#[test]
fn one_model_many_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Lm>();
    send_sync::<frozen::Vision>();
    send_sync::<frozen::Projector>();
    send_sync::<frozen::Image>();
    send_sync::<frozen::Prompt<'static>>();
    send::<Session<'static>>();
    send::<frozen::Trainer<'static>>();

    let m = lm();
    let toks = m.tokenize("Hello, my dog").unwrap();
    let p = GenerateParams { max_tokens: 10, ..Default::default() };
    let run = |m: &Lm| {
        let mut s = Session::new(m).unwrap();
        s.eval_tokens(0, &toks, LogitsMode::None).unwrap();
        s.generate(0, &p).unwrap()
    };
    let want = run(&m);
    let outs: Vec<Vec<i32>> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..3).map(|_| sc.spawn(|| run(&m))).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(outs.iter().all(|o| *o == want));
    // A session moves to another thread (Send).
    let mut s = Session::new(&m).unwrap();
    s.eval_tokens(0, &toks, LogitsMode::None).unwrap();
    let got = std::thread::scope(|sc| sc.spawn(move || s.generate(0, &p).unwrap()).join().unwrap());
    assert_eq!(got, want);
}
