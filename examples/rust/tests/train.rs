//! Training through the wrapper: progress, abort with the checkpoint intact, resume with the uninterrupted
//! run's losses, panics in callbacks, and errors.

mod common;
use common::*;

use frozen::{Lm, Status, TrainParams, TrainProgress, Trainer};
use std::path::PathBuf;
use std::sync::Mutex;

/// A TSV of eight fixture images (absolute paths) and captions.
fn make_data(d: &TempDir) -> PathBuf {
    let rows = [
        ("eval/episodes/img/dax1.jpg", "a dax"),
        ("eval/episodes/img/dax2.jpg", "another dax"),
        ("eval/episodes/img/blicket1.jpg", "a blicket"),
        ("eval/episodes/img/blicket2.jpg", "a blue blicket"),
        ("eval/episodes/img/query1.jpg", "a question"),
        ("eval/episodes/img/query2.jpg", "one more question"),
        ("images/png_rgb8.png", "small colours"),
        ("images/jpeg_gray.jpg", "a grey picture"),
    ];
    let tsv: String = rows.iter().map(|(f, c)| format!("{}\t{c}\n", fixture(f).display())).collect();
    std::fs::write(d.join("data.tsv"), tsv).unwrap();
    d.join("data.tsv")
}

/// Small, fast, deterministic settings: the tiny NF-ResNet on 24-pixel images, 4 steps of 3 examples.
fn small() -> TrainParams {
    TrainParams {
        vision_arch: "tiny".into(),
        vision_width: 0.0625,
        image_size: 24,
        batch_size: 3,
        lr: 1e-3,
        n_threads: 1,
        seed: 7,
        max_steps: 4,
        val_fraction: 0.25,
        val_every: 2,
        patience: 0,
        ..Default::default()
    }
}

#[test]
fn defaults_are_the_papers() {
    let p = TrainParams::default();
    assert_eq!((p.vision_arch.as_str(), p.image_size, p.prefix_tokens, p.batch_size), ("nf_resnet50", 224, 2, 128));
    assert_eq!((p.lr, p.beta1, p.beta2), (3e-4, 0.9, 0.95));
}

#[test]
fn abort_keeps_the_checkpoint_and_resume_continues_exactly() {
    let d = TempDir::new();
    let data = make_data(&d);
    // What the callbacks borrow outlives the model (the trainer's 'm).
    let ref_loss = Mutex::new([0f32; 5]);
    let seen = Mutex::new(Vec::<TrainProgress>::new());
    let lm = Lm::load(lm_dir()).unwrap();

    // Uninterrupted reference run.
    let mut t = Trainer::new(&lm, &data, d.join("ref"), &small()).unwrap();
    t.set_progress(|p| ref_loss.lock().unwrap()[p.step as usize] = p.loss);
    t.run().unwrap();
    assert_eq!((t.progress().unwrap().step, t.progress().unwrap().total_steps), (4, 4));
    drop(t);
    assert!(d.join("ref/vision.safetensors").exists() && d.join("ref/projector.safetensors").exists());

    // Aborted after step 2: Cancelled, and a checkpoint of step 2.
    let mut t = Trainer::new(&lm, &data, d.join("run"), &small()).unwrap();
    t.set_progress(|p| seen.lock().unwrap().push(*p));
    t.set_abort(|| seen.lock().unwrap().last().is_some_and(|p| p.step >= 2));
    assert_eq!(t.run().unwrap_err().status(), Status::Cancelled);
    assert_eq!(t.progress().unwrap().step, 2);
    drop(t);
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].struct_size, std::mem::size_of::<TrainProgress>());
        assert_eq!((seen[1].n_train, seen[1].n_val), (6, 2));
        assert!(seen[1].val_ppl > 0.0, "validated at step 2");
    }
    assert_eq!(safetensors_meta(&d.join("run/checkpoint.safetensors"), "frozen.train.step"), "2");

    // Resumed: steps 3 and 4 with the uninterrupted run's losses, bit for bit, and the same final encoder.
    seen.lock().unwrap().clear();
    let mut t = Trainer::new(&lm, &data, d.join("run"), &TrainParams { resume: true, ..small() }).unwrap();
    t.set_progress(|p| seen.lock().unwrap().push(*p));
    t.run().unwrap();
    drop(t);
    let seen = seen.lock().unwrap();
    let r = ref_loss.lock().unwrap();
    assert_eq!(seen.iter().map(|p| p.step).collect::<Vec<_>>(), [3, 4]);
    assert_eq!(seen.iter().map(|p| p.loss.to_bits()).collect::<Vec<_>>(), [r[3].to_bits(), r[4].to_bits()]);
    assert!(r[4] > 0.0);
    assert_eq!(
        std::fs::read(d.join("run/vision.safetensors")).unwrap(),
        std::fs::read(d.join("ref/vision.safetensors")).unwrap()
    );
}

#[test]
fn a_panic_in_progress_stops_the_run_and_resumes_in_the_caller() {
    let d = TempDir::new();
    let data = make_data(&d);
    let lm = Lm::load(lm_dir()).unwrap();
    let mut t = Trainer::new(&lm, &data, d.join("run"), &small()).unwrap();
    t.set_progress(|_| panic!("progress failed"));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| t.run()));
    assert_eq!(*r.unwrap_err().downcast::<&str>().unwrap(), "progress failed");
    assert_eq!(t.progress().unwrap().step, 1, "stopped after the first step");
}

#[test]
fn bad_settings_and_data_are_errors_naming_them() {
    let d = TempDir::new();
    let data = make_data(&d);
    let lm = Lm::load(lm_dir()).unwrap();
    let e = Trainer::new(&lm, &data, d.join("a"), &TrainParams { micro_batch: 2, ..small() }).err().unwrap();
    assert!(e.status() == Status::InvalidArg && e.message().contains("micro"), "{e}");
    let e = Trainer::new(&lm, &data, d.join("a"), &TrainParams { lr_decay: 1.5, ..small() }).err().unwrap();
    assert!(e.status() == Status::InvalidArg && e.message().contains("lr_decay"), "{e}");
    let e = Trainer::new(&lm, d.join("missing.tsv"), d.join("b"), &small()).err().unwrap();
    assert!(e.status() == Status::Io && e.message().contains("missing.tsv"), "{e}");
    std::fs::write(d.join("bad.tsv"), "no tab on this line\n").unwrap();
    let e = Trainer::new(&lm, d.join("bad.tsv"), d.join("c"), &small()).err().unwrap();
    assert!(e.message().contains("bad.tsv"), "{e}");
}
