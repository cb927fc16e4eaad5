#!/bin/sh
# Regenerates every committed fixture from the independent references (`make fixtures`).
set -e
cd "$(dirname "$0")/../.."
sh tests/reference/make_tokenizer_fixtures.sh
/usr/bin/python3 tests/reference/make_bpe_train_fixtures.py  # the trainer reference and npm gpt-3-encoder
/usr/bin/python3 tests/reference/make_gpt2_fixtures.py
/usr/bin/python3 tests/reference/make_lm_grad_fixtures.py   # reads the models the line above wrote
/usr/bin/python3 tests/reference/make_lm_adamw_fixtures.py  # likewise
/usr/bin/python3 tests/reference/make_image_fixtures.py
/usr/bin/python3 tests/reference/make_nfresnet_fixtures.py
/usr/bin/python3 tests/reference/make_train_fixtures.py     # reads models/gpt2-f32 and nfresnet_ref.py
/usr/bin/python3 tests/fixtures/eval/make_fixtures.py
/usr/bin/python3 tests/fixtures/prompt/make_fixtures.py
