//! libfrozen from Rust: generate text (streamed), score a continuation, and, given a `frozen train` run folder
//! and an image, caption it and answer the prompt about it.
//!
//!     cargo run --example generate -- LM_DIR PROMPT [RUN_DIR IMAGE]

use frozen::{GenerateParams, Image, Lm, LogLevel, LogitsMode, Projector, Prompt, Session, Vision};
use std::io::Write;
use std::ops::ControlFlow;
use std::process::ExitCode;

fn run(args: &[String]) -> frozen::Result<()> {
    frozen::set_log_callback(|_, text| eprintln!("frozen: {text}"), LogLevel::Warn);
    let lm = Lm::load(&args[1])?;
    let mut s = Session::new(&lm)?;
    s.set_threads(2)?;

    // Text: prefill the prompt, then stream the continuation. Bytes are printed as they come (a token may
    // split a UTF-8 character; the terminal joins them).
    s.eval_tokens(0, &lm.tokenize(&args[2])?, LogitsMode::None)?;
    let mut stdout = std::io::stdout();
    s.generate_with(0, &GenerateParams { max_tokens: 24, ..Default::default() }, |t| {
        let _ = stdout.write_all(&lm.detokenize(&[t]).unwrap_or_default());
        let _ = stdout.flush();
        ControlFlow::Continue(())
    })?;
    println!();

    s.truncate(0, 0)?;
    s.eval_tokens(0, &lm.tokenize(&args[2])?, LogitsMode::Last)?;
    println!("log p(\" the\" | prompt) = {:.6}", s.score(0, &lm.tokenize(" the")?)?.total);

    if args.len() == 5 {
        let v = Vision::load(format!("{}/vision.safetensors", args[3]))?;
        let p = Projector::load(format!("{}/projector.safetensors", args[3]))?;
        let img = Image::load_file(&args[4])?;
        println!("caption: {}", s.caption(0, &v, &p, &img, 32)?);

        // The image as a visual prefix, then the prompt; generation stops at a newline.
        let mut pr = Prompt::with_encoder(&lm, &v, &p)?;
        pr.add_image(&img)?.add_text(&args[2])?;
        s.truncate(0, 0)?;
        let ids = s.generate_prompt(0, Some(&pr), &GenerateParams { max_tokens: 16, ..Default::default() }, true)?;
        println!("answer: {}", lm.detokenize_lossy(&ids)?);
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 && args.len() != 5 {
        eprintln!("usage: {} LM_DIR PROMPT [RUN_DIR IMAGE]", args[0]);
        return ExitCode::from(2);
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("generate: {e}"); // e.g. "I/O error: models/x/config.json: ..."
            ExitCode::FAILURE
        }
    }
}
