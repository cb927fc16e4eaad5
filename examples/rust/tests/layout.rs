//! The #[repr(C)] mirrors of src/sys.rs against a C compiler's layout of include/frozen.h: tests/layout.c is
//! compiled ($CC, default cc) and prints every struct's size and member offsets; each must equal Rust's.

mod common;

use frozen::sys::*;
use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};
use std::os::raw::c_int;
use std::process::Command;

macro_rules! entries {
    ($map:ident; $T:ident: $($m:ident),*) => {
        $map.insert(stringify!($T).to_string(), size_of::<$T>() as i64);
        $( $map.insert(format!("{}.{}", stringify!($T), stringify!($m)), offset_of!($T, $m) as i64); )*
    };
}

fn rust_layout() -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    entries!(m; frz_input: seq, n, tokens, embd);
    entries!(m; frz_generate_params: struct_size, max_tokens, temperature, top_k, top_p, stop_at_eot, stop, n_stop,
             on_token, on_token_data);
    entries!(m; frz_train_progress: struct_size, step, total_steps, steps_per_epoch, epoch, loss, lr, images_per_s,
             val_ppl, best_val_ppl, skipped_images, n_train, n_val, elapsed_s);
    entries!(m; frz_train_params: struct_size, vision_arch, vision_width, image_size, prefix_tokens, batch_size,
             micro_batch, lr, beta1, beta2, adam_eps, weight_decay, grad_clip, epochs, max_steps, val_fraction,
             val_every, patience, max_caption_tokens, checkpoint_every, blind, resume, seed, n_threads, image_dir,
             progress, progress_data, abort, abort_data, lm_mode, lm_lr, lr_decay);
    entries!(m; frz_tokenizer_train_params: struct_size, vocab_size, min_frequency, n_threads, tab_segments, abort,
             abort_data);
    entries!(m; frz_tokenizer_train_stats: struct_size, n_bytes, n_words, n_unique_words, n_merges, n_vocab,
             last_count, count_s, merge_s);
    entries!(m; frz_lm_config: struct_size, n_layer, n_head, n_embd, n_ctx, n_inner);
    entries!(m; frz_pretrain_progress: struct_size, step, total_steps, epoch, loss, lr, tokens_per_s, val_loss,
             n_train, n_val, n_truncated, n_tokens, elapsed_s);
    entries!(m; frz_pretrain_params: struct_size, steps, batch_size, context, lr, warmup, min_lr_ratio, beta1, beta2,
             adam_eps, weight_decay, grad_clip, val_fraction, val_every, checkpoint_every, tab_segments, no_shuffle,
             seed, n_threads, progress, progress_data, abort, abort_data);
    for e in ["frz_status", "frz_logits_mode", "frz_prompt_seg_kind"] {
        m.insert(e.to_string(), size_of::<c_int>() as i64);
    }
    m.insert("FRZ_VERSION_NUMBER".into(), FRZ_VERSION_NUMBER as i64);
    m.insert("FRZ_TOKEN_EMBEDDING".into(), FRZ_TOKEN_EMBEDDING as i64);
    m.insert("FRZ_ERR_CONTEXT_FULL".into(), FRZ_ERR_CONTEXT_FULL as i64);
    m.insert("FRZ_LM_N_PARAMS".into(), FRZ_LM_N_PARAMS as i64);
    m.insert("FRZ_PROMPT_SEG_EMBEDDING".into(), FRZ_PROMPT_SEG_EMBEDDING as i64);
    m
}

#[test]
fn structs_match_the_c_header() {
    let repo = common::repo();
    let d = common::TempDir::new();
    let exe = d.join("layout");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let st = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(repo.join("include"))
        .arg("-o")
        .arg(&exe)
        .arg(repo.join("examples/rust/tests/layout.c"))
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cc}: {e}"));
    assert!(st.success(), "{cc} failed on tests/layout.c");
    let out = Command::new(&exe).output().unwrap();
    let c: BTreeMap<String, i64> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect();
    let rust = rust_layout();
    assert_eq!(c.len(), rust.len(), "entries: C {:?} vs Rust {:?}", c.keys(), rust.keys());
    for (k, v) in &c {
        assert_eq!(rust.get(k), Some(v), "{k}: C says {v}, Rust {:?}", rust.get(k));
    }
}
