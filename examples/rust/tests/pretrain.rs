//! Tokenizer training, random models and pretraining through the safe wrapper, against the `frozen` CLI (the
//! Rust side of examples/python/test_frozen.py's TestLMTraining and examples/cpp/test_frozen.cpp).

mod common;
use common::*;

use frozen::{
    pretrain, tokenizer_train, tokenizer_train_with_abort, Lm, LmConfig, LogitsMode, PretrainParams, PretrainProgress,
    Pretrainer, Session, Status, TokenizerTrainOptions,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const FACTS: [&str; 4] =
    ["red apples grow on trees", "yellow bananas are long", "green limes taste sour", "purple grapes make wine"];

/// The CLI test's tokenizer corpus: samples with a TAB, each followed by three newlines.
fn tok_corpus(d: &TempDir) -> PathBuf {
    let p = d.join("tok-corpus.txt");
    let text: String = (0..40)
        .map(|i| format!("a small red circle on the left\tQuestion: What colour is the shape? Answer: red {i}\n\n\n"))
        .collect();
    std::fs::write(&p, text).unwrap();
    p
}
/// 64 samples, four facts: after a fact's first word the rest is determined.
fn facts(d: &TempDir) -> PathBuf {
    let p = d.join("facts.txt");
    let text: String = (0..64).map(|i| format!("{}\n", FACTS[(i * 7 + i / 3) % 4])).collect();
    std::fs::write(&p, text).unwrap();
    p
}
fn same_files(a: &Path, b: &Path) {
    for name in ["vocab.json", "merges.txt"] {
        assert_eq!(std::fs::read(a.join(name)).unwrap(), std::fs::read(b.join(name)).unwrap(), "{name}");
    }
}
fn logits_all(lm: &Lm, ids: &[i32]) -> Vec<Vec<f32>> {
    let mut s = Session::new(lm).unwrap();
    s.set_threads(1).unwrap();
    s.eval_tokens(0, ids, LogitsMode::All).unwrap();
    (0..ids.len()).map(|r| s.logits(r).unwrap().to_vec()).collect()
}

#[test]
fn tokenizer_train_equals_the_cli() {
    let d = TempDir::new();
    let corpus = tok_corpus(&d);
    let c = corpus.to_str().unwrap();
    for (extra, tab, minf) in [
        (&[][..], false, None),
        (&["--tab-segments"][..], true, None),
        (&["--min-frequency", "50"][..], false, Some(50)),
    ] {
        let tag = extra.join("");
        let (mine, cli) = (d.join(&format!("rs{tag}")), d.join(&format!("cli{tag}")));
        let mut o = TokenizerTrainOptions { vocab_size: 300, n_threads: 1, tab_segments: tab, ..Default::default() };
        if let Some(m) = minf {
            o.min_frequency = m;
        }
        let stats = tokenizer_train(&corpus, &mine, &o).unwrap();
        let mut args = vec![
            "tokenizer-train",
            "--data",
            c,
            "--out",
            cli.to_str().unwrap(),
            "--vocab-size",
            "300",
            "--threads",
            "1",
        ];
        args.extend_from_slice(extra);
        run_cli(&args);
        same_files(&mine, &cli);
        let merges = std::fs::read_to_string(mine.join("merges.txt")).unwrap();
        let lines: Vec<&str> = merges.split('\n').collect();
        assert_eq!(lines[0], "#version: 0.2");
        assert_eq!(stats.n_merges as usize, lines.len() - 2);
        assert_eq!(stats.n_bytes as u64, std::fs::metadata(&corpus).unwrap().len());
        assert!(0 < stats.n_unique_words && stats.n_unique_words < stats.n_words);
        let vocab = std::fs::read_to_string(mine.join("vocab.json")).unwrap();
        assert!(vocab.contains(&format!("\"<|endoftext|>\": {}", stats.n_vocab - 1)), "{vocab}");
        if extra.is_empty() {
            assert_eq!((stats.n_vocab, stats.n_merges), (300, 43)); // as tests/cli_test.sh finds
        }
        if minf.is_some() {
            assert!(stats.last_count >= 50 && stats.n_vocab < 300);
        }
    }
    assert_ne!(
        std::fs::read(d.join("rs/merges.txt")).unwrap(),
        std::fs::read(d.join("rs--tab-segments/merges.txt")).unwrap()
    );
}

#[test]
fn tokenizer_train_errors_and_abort() {
    let d = TempDir::new();
    let corpus = tok_corpus(&d);
    let out = d.join("a");
    let e =
        tokenizer_train(&corpus, &out, &TokenizerTrainOptions { vocab_size: 256, ..Default::default() }).unwrap_err();
    assert_eq!(e.status(), Status::InvalidArg);
    assert!(e.message().contains("vocab_size"), "{e}");
    let o = TokenizerTrainOptions { vocab_size: 300, ..Default::default() };
    let e = tokenizer_train(d.join("no-such.txt"), &out, &o).unwrap_err();
    assert_eq!(e.status(), Status::Io);
    assert!(e.message().contains("no-such.txt"), "{e}");
    let mut calls = 0;
    let e = tokenizer_train_with_abort(&corpus, &out, &o, || {
        calls += 1;
        true
    })
    .unwrap_err();
    assert_eq!(e.status(), Status::Cancelled);
    assert!(calls > 0);
    // A panicking abort callback stops it, and the panic comes out.
    let r = std::panic::catch_unwind(|| tokenizer_train_with_abort(&corpus, &out, &o, || panic!("from abort")));
    assert_eq!(*r.unwrap_err().downcast::<&str>().unwrap(), "from abort");
    assert!(!out.join("vocab.json").exists()); // nothing written
}

#[test]
fn random_lm_saves_and_loads_to_the_same_logits() {
    let d = TempDir::new();
    let tok = d.join("tok");
    tokenizer_train(tok_corpus(&d), &tok, &TokenizerTrainOptions { vocab_size: 300, ..Default::default() }).unwrap();
    let cfg = LmConfig { n_layer: 2, n_head: 2, n_embd: 16, n_ctx: 32, ..Default::default() };
    let ids = [5, 77, 120, 299, 3, 42];
    let lm = Lm::create_random(&tok, &cfg, 5).unwrap();
    assert_eq!((lm.n_layer(), lm.n_embd(), lm.n_ctx(), lm.n_vocab(), lm.eot_token()), (2, 16, 32, 300, Some(299)));
    let before = logits_all(&lm, &ids);
    lm.save(d.join("m")).unwrap();
    drop(lm);
    same_files(&tok, &d.join("m"));
    let back = Lm::load(d.join("m")).unwrap();
    assert_eq!(logits_all(&back, &ids), before);
    // the seed decides the weights
    assert_eq!(logits_all(&Lm::create_random(&tok, &cfg, 5).unwrap(), &ids), before);
    assert_ne!(logits_all(&Lm::create_random(&tok, &cfg, 6).unwrap(), &ids), before);
    let e = Lm::create_random(&tok, &LmConfig { n_head: 3, n_embd: 16, ..Default::default() }, 1).err().unwrap();
    assert_eq!(e.status(), Status::InvalidArg);
    assert!(e.message().contains("n_head"), "{e}");
    assert_eq!(LmConfig::default(), LmConfig { n_layer: 4, n_head: 4, n_embd: 128, n_ctx: 256, n_inner: 0, untied_head: 0 });
}

fn tiny_lm() -> Lm {
    Lm::create_random(lm_dir(), &LmConfig { n_layer: 1, n_head: 2, n_embd: 16, n_ctx: 16, ..Default::default() }, 5)
        .unwrap()
}
fn tiny_pretrain() -> PretrainParams {
    PretrainParams {
        steps: 20,
        batch_size: 8,
        lr: 1e-2,
        warmup: 2,
        val_fraction: 0.1,
        val_every: 10,
        seed: 3,
        n_threads: 1,
        ..Default::default()
    }
}

#[test]
fn pretraining_reduces_the_loss() {
    let d = TempDir::new();
    let corpus = facts(&d);
    let out = d.join("lm");
    let mut lm = tiny_lm();
    let seen = Arc::new(Mutex::new(Vec::<PretrainProgress>::new()));
    {
        let mut t = Pretrainer::new(&mut lm, &corpus, &out, &tiny_pretrain()).unwrap();
        let s = seen.clone();
        t.set_progress(move |p| s.lock().unwrap().push(*p));
        t.run().unwrap();
        assert_eq!(t.progress().unwrap().step, 20);
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.iter().map(|p| p.step).collect::<Vec<_>>(), (1..=20).collect::<Vec<_>>());
    assert!(seen.iter().all(|p| p.total_steps == 20));
    let last = seen[19];
    assert_eq!(last.n_train + last.n_val, 64);
    // a fresh model is near uniform over the 457 ids; after 20 steps the loss is far lower
    assert!((seen[0].loss - (457f32).ln()).abs() < 0.1, "{}", seen[0].loss);
    let mean = |s: &[PretrainProgress]| s.iter().map(|p| p.loss).sum::<f32>() / s.len() as f32;
    let (first5, last5) = (mean(&seen[..5]), mean(&seen[15..]));
    assert!(last5 < first5 - 1.0, "{first5} -> {last5}");
    assert!(0.0 < last.val_loss && last.val_loss < seen[0].loss as f64);
    // metrics.csv lists the steps the callback saw
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let steps: Vec<i64> = csv.lines().skip(1).map(|r| r.split(',').next().unwrap().parse().unwrap()).collect();
    assert_eq!(steps, (1..=20).collect::<Vec<_>>());
    assert!(std::fs::metadata(out.join("loss.png")).unwrap().len() > 100);
    // trained in place, and saved: the folder loads to the same logits
    let ids = lm.tokenize("green limes taste").unwrap();
    let trained = logits_all(&lm, &ids);
    assert_eq!(logits_all(&Lm::load(&out).unwrap(), &ids), trained);
}

#[test]
fn pretraining_stops_on_request_with_the_model_saved() {
    let d = TempDir::new();
    let corpus = facts(&d);
    let ids = [10, 20, 30];
    let full = Arc::new(Mutex::new(Vec::<f32>::new()));
    let f = full.clone();
    let mut lm = tiny_lm();
    let done =
        pretrain(&mut lm, &corpus, d.join("full"), &tiny_pretrain(), move |p| f.lock().unwrap().push(p.loss), || false)
            .unwrap();
    assert_eq!(done.step, 20);
    let full = full.lock().unwrap().clone();
    for how in ["abort", "panic"] {
        let out = d.join(how);
        let seen = Arc::new(Mutex::new(Vec::<PretrainProgress>::new()));
        let (s1, s2) = (seen.clone(), seen.clone());
        let mut lm = tiny_lm();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pretrain(
                &mut lm,
                &corpus,
                &out,
                &tiny_pretrain(),
                move |p| {
                    s1.lock().unwrap().push(*p);
                    if how == "panic" && p.step == 3 {
                        panic!("stop");
                    }
                },
                move || how == "abort" && s2.lock().unwrap().len() >= 3,
            )
        }));
        match how {
            "abort" => assert_eq!(r.unwrap().unwrap_err().status(), Status::Cancelled),
            _ => assert_eq!(*r.unwrap_err().downcast::<&str>().unwrap(), "stop"),
        }
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.iter().map(|p| p.step).collect::<Vec<_>>(), [1, 2, 3], "{how}");
        // the same losses as the uninterrupted run, step for step
        assert_eq!(seen.iter().map(|p| p.loss).collect::<Vec<_>>(), full[..3], "{how}");
        let stopped = logits_all(&lm, &ids);
        assert_eq!(logits_all(&Lm::load(&out).unwrap(), &ids), stopped, "{how}"); // saved after step 3
        assert_ne!(logits_all(&Lm::load(d.join("full")).unwrap(), &ids), stopped, "{how}");
    }
}

#[test]
fn pretraining_errors() {
    let d = TempDir::new();
    let bad = d.join("bad.txt");
    std::fs::write(&bad, b"fine line\nbad \xff byte\n").unwrap();
    let mut lm = tiny_lm();
    let e = Pretrainer::new(&mut lm, &bad, d.join("o"), &tiny_pretrain()).err().unwrap();
    assert_eq!(e.status(), Status::Format);
    assert!(e.message().contains("bad.txt:2"), "{e}");
    let e = Pretrainer::new(&mut lm, d.join("none.txt"), d.join("o"), &tiny_pretrain()).err().unwrap();
    assert_eq!(e.status(), Status::Io);
    let p = PretrainParams { context: 17, ..tiny_pretrain() }; // beyond the model's n_ctx
    assert_eq!(Pretrainer::new(&mut lm, facts(&d), d.join("o"), &p).err().unwrap().status(), Status::InvalidArg);
}
