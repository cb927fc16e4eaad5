// example.cpp -- libfrozen from C++ through frozen.hpp: generate text, score continuations, and (given an
// encoder and projector) caption an image and answer about it.
//
//   example LM_DIR PROMPT                         greedy continuation, streamed, and the score of " the"
//   example LM_DIR PROMPT RUN_DIR IMAGE           plus a caption of IMAGE and the prompt asked about it
//
// RUN_DIR is a `frozen train` run folder (vision.safetensors, projector.safetensors).
#include "frozen.hpp"

#include <iostream>

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 5) {
        std::cerr << "usage: " << argv[0] << " LM_DIR PROMPT [RUN_DIR IMAGE]\n";
        return 2;
    }
    try {
        frozen::set_log_callback([](frz_log_level level, std::string_view text) {
            if (level <= FRZ_LOG_WARN) std::cerr << "frozen: " << text << "\n";
        }, FRZ_LOG_WARN);

        const frozen::lm model(argv[1]);
        frozen::session s(model);
        s.set_threads(2);

        // Text: prefill the prompt, then stream the continuation as it is generated.
        s.eval(0, model.tokenize(argv[2]), FRZ_LOGITS_NONE);
        frozen::generate_options g;
        g.max_tokens = 24;
        g.on_token = [&](int32_t token) {
            std::cout << model.detokenize({token}) << std::flush;  // a token may split a UTF-8 character
            return true;
        };
        s.generate(0, g);
        std::cout << "\n";

        s.truncate(0);
        s.eval(0, model.tokenize(argv[2]));
        std::cout << "log p(\" the\" | prompt) = " << s.score(0, model.tokenize(" the")).total << "\n";

        if (argc == 5) {
            const std::string run = argv[3];
            const frozen::vision v = frozen::vision::load(run + "/vision.safetensors");
            const frozen::projector p = frozen::projector::load(run + "/projector.safetensors");
            const frozen::image img = frozen::image::load_file(argv[4]);
            std::cout << "caption: " << s.caption(0, v, p, img) << "\n";

            // The image as a visual prefix, then the prompt: generation stops at a newline.
            frozen::prompt pr(model, v, p);
            pr.add_image(img).add_text(argv[2]);
            s.truncate(0);
            frozen::generate_options answer;
            answer.max_tokens = 16;
            std::cout << "answer: " << model.detokenize(s.generate(0, pr, answer, frozen::stop_newline)) << "\n";
        }
    } catch (const frozen::error &e) {
        std::cerr << "example: " << e.what() << "\n";  // e.g. "I/O error: models/x/config.json: ..."
        return 1;
    }
    return 0;
}
