//! Images, the encoder and projector, prompts with images, and captions (against the CLI).

mod common;
use common::*;

use frozen::{
    image_prefix, GenerateParams, Image, Input, Lm, LogitsMode, Projector, Prompt, SegmentKind, Session, Status,
    Vision, TOKEN_EMBEDDING,
};

/// The tiny NF-ResNet at width 1/16 on 32-pixel images and a random projector to the fixture LM's width.
fn models(seed: u64) -> (Vision, Projector) {
    let v = Vision::create("tiny", 0.0625, 32, seed).unwrap();
    let p = Projector::create(v.n_features() as i32, 2, 48, seed + 2).unwrap();
    (v, p)
}

#[test]
fn image_decoding_and_pixels() {
    let im = Image::load_file(fixture("images/png_rgb8.png")).unwrap();
    assert_eq!((im.width(), im.height()), (13, 9));
    assert_eq!(im.pixels(), std::fs::read(fixture("images/png_rgb8.rgb")).unwrap().as_slice());
    let copy = Image::from_rgb8(im.pixels(), 13, 9, None).unwrap();
    assert_eq!(copy.pixels(), im.pixels());
    // A stride: every row padded by 5 bytes.
    let padded: Vec<u8> = im.pixels().chunks(39).flat_map(|r| r.iter().cloned().chain([7; 5])).collect();
    assert_eq!(Image::from_rgb8(&padded, 13, 9, Some(44)).unwrap().pixels(), im.pixels());
    assert_eq!(Image::from_rgb8(&padded[..100], 13, 9, Some(44)).err().unwrap().status(), Status::Shape);

    let bytes = std::fs::read(img("dax1.jpg")).unwrap();
    assert!(Image::load_memory(&bytes, "dax1").unwrap().width() > 0);
    let e = Image::load_memory(b"not an image at all", "junk-bytes").err().unwrap();
    assert!(e.status() == Status::Format && e.message().contains("junk-bytes"), "{e}");
    let e = Image::load_file(fixture("nope.png")).err().unwrap();
    assert!(e.status() == Status::Io && e.message().contains("nope.png"), "{e}");
}

#[test]
fn prefix_is_projector_of_encoder_and_survives_save_load() {
    let (v, p) = models(7);
    assert_eq!((v.image_size(), p.n_prefix(), p.n_embd(), p.n_features()), (32, 2, 48, v.n_features()));
    let im = Image::load_file(img("dax1.jpg")).unwrap();
    let pooled = v.encode(&im, 1).unwrap();
    assert_eq!(pooled.len(), v.n_features());
    let prefix = image_prefix(&v, &p, &im, 1).unwrap();
    assert_eq!(prefix.len(), 96);
    assert_eq!(p.apply(&pooled).unwrap(), prefix);
    assert_eq!(p.apply(&[0.0; 3]).unwrap_err().status(), Status::Shape);

    let d = TempDir::new();
    v.save(d.join("vision.safetensors")).unwrap();
    p.save(d.join("projector.safetensors")).unwrap();
    let (v2, p2) = (
        Vision::load(d.join("vision.safetensors")).unwrap(),
        Projector::load(d.join("projector.safetensors")).unwrap(),
    );
    assert_eq!(image_prefix(&v2, &p2, &im, 1).unwrap(), prefix);
    assert_eq!(Vision::create("resnet9000", 1.0, 224, 0).err().unwrap().status(), Status::InvalidArg);
    let e = Vision::load(d.join("missing.safetensors")).err().unwrap();
    assert!(e.status() == Status::Io && e.message().contains("missing.safetensors"), "{e}");
}

#[test]
fn prompts_with_images_run_as_the_raw_eval() {
    let lm = Lm::load(lm_dir()).unwrap();
    let (v, p) = models(7);
    let dax = Image::load_file(img("dax1.jpg")).unwrap();
    let query = Image::load_file(img("query1.jpg")).unwrap();

    let mut pr = Prompt::with_encoder(&lm, &v, &p).unwrap();
    pr.add_image(&dax).unwrap().add_text("This is a dax.").unwrap();
    pr.add_image_file(img("query1.jpg")).unwrap().add_text(" Q: What is this? A:").unwrap();
    let (t1, t2) = (lm.tokenize("This is a dax.").unwrap(), lm.tokenize(" Q: What is this? A:").unwrap());
    let toks = pr.tokens().unwrap();
    assert_eq!(toks.len(), 4 + t1.len() + t2.len());
    assert_eq!(pr.len(), toks.len());
    assert_eq!(&toks[..2], &[TOKEN_EMBEDDING, TOKEN_EMBEDDING]);
    assert_eq!(&toks[2..2 + t1.len()], t1.as_slice());
    let seg = pr.segments().unwrap();
    assert_eq!(
        seg.iter().map(|s| s.kind).collect::<Vec<_>>(),
        [SegmentKind::Image, SegmentKind::Text, SegmentKind::Image, SegmentKind::Text]
    );
    assert_eq!((seg[2].start, seg[2].n), (2 + t1.len(), 2));
    let (dp, qp) = (image_prefix(&v, &p, &dax, 1).unwrap(), image_prefix(&v, &p, &query, 1).unwrap());
    assert_eq!(pr.embedding(1).unwrap(), &dp[48..]);
    assert!(pr.embedding(2).is_none());

    // The prompt's run equals the same positions through the raw batched eval in one call.
    let mut embd = vec![0.0f32; toks.len() * 48];
    embd[..96].copy_from_slice(&dp);
    embd[seg[2].start * 48..seg[2].start * 48 + 96].copy_from_slice(&qp);
    let mut s = Session::new(&lm).unwrap();
    s.set_max_seqs(2).unwrap();
    s.eval(&[Input::mixed(1, &toks, &embd)], LogitsMode::None).unwrap();
    let g = GenerateParams { max_tokens: 8, stop_at_eot: false, ..Default::default() };
    let raw = s.generate(1, &g).unwrap();
    let via = s.generate_prompt(0, Some(&pr), &g, false).unwrap();
    assert_eq!(raw.len(), 8);
    assert_eq!(raw, via);

    // Scores of candidates equal frz_score of their tokens after the prompt.
    s.truncate(-1, 0).unwrap();
    let sc = s.score_prompt(0, Some(&pr), &[" dax", " blicket", ""]).unwrap();
    assert!(sc[0] < 0.0 && sc[1] < 0.0 && sc[2] == 0.0, "{sc:?}");
    assert_eq!(s.seq_len(0), Some(pr.len()));
    assert!((s.score(0, &lm.tokenize(" blicket").unwrap()).unwrap().total - sc[1]).abs() < 1e-5);

    // Prompt caching: a fork of the evaluated support gives what a fresh evaluation gives.
    let mut support = Prompt::with_encoder(&lm, &v, &p).unwrap();
    support.add_image(&dax).unwrap().add_text("This is a dax.").unwrap();
    let mut q = Prompt::with_encoder(&lm, &v, &p).unwrap();
    q.add_image(&query).unwrap().add_text(" Q: What is this? A:").unwrap();
    s.truncate(-1, 0).unwrap();
    s.eval_prompt(0, &support, LogitsMode::None).unwrap();
    s.copy_seq(0, 1).unwrap();
    let forked = s.generate_prompt(1, Some(&q), &g, false).unwrap();
    s.truncate(0, 0).unwrap();
    s.eval_prompt(0, &support, LogitsMode::None).unwrap();
    assert_eq!(s.generate_prompt(0, Some(&q), &g, false).unwrap(), forked);

    // A prompt without an encoder takes images with one given alongside, and raw embeddings.
    let mut plain = Prompt::new(&lm).unwrap();
    assert_eq!(plain.add_image(&dax).err().unwrap().status(), Status::InvalidArg);
    plain.add_image_with(&dax, &v, &p).unwrap().add_embeddings(&[0.5; 96]).unwrap();
    assert_eq!(plain.len(), 4);
    assert_eq!(plain.embedding(3).unwrap()[0], 0.5);
    assert_eq!(plain.add_embeddings(&[0.0; 50]).err().unwrap().status(), Status::Shape);
    assert_eq!(plain.add_embeddings(&vec![0.0; 64 * 48]).err().unwrap().status(), Status::ContextFull);
    plain.clear();
    assert!(plain.is_empty());
    assert_eq!(s.eval_prompt(0, &plain, LogitsMode::Last).unwrap_err().status(), Status::InvalidArg);
}

#[test]
fn caption_equals_the_cli() {
    let lm = Lm::load(lm_dir()).unwrap();
    let (v, p) = models(3);
    let d = TempDir::new();
    v.save(d.join("vision.safetensors")).unwrap();
    p.save(d.join("projector.safetensors")).unwrap();
    let mut s = Session::new(&lm).unwrap();
    s.set_threads(1).unwrap();
    let path = img("blicket1.jpg");
    let mine = s.caption_bytes(0, &v, &p, &Image::load_file(&path).unwrap(), 12).unwrap();
    assert!(!mine.is_empty(), "an empty caption proves little");
    let out = std::process::Command::new(cli())
        .args([
            "caption",
            "--lm",
            lm_dir().to_str().unwrap(),
            "--model",
            d.0.to_str().unwrap(),
            "--max-tokens",
            "12",
            "--threads",
            "1",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    // The CLI prints IMAGE TAB caption, with tabs and line breaks inside the caption as spaces.
    let mut want = path.to_str().unwrap().as_bytes().to_vec();
    want.push(b'\t');
    want.extend(mine.iter().map(|&c| if c == b'\t' || c == b'\n' || c == b'\r' { b' ' } else { c }));
    want.push(b'\n');
    assert_eq!(out.stdout, want);
}
