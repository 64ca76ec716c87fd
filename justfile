# Sesh developer recipes. `just` is optional: every recipe is a plain command.

# Start Sesh (demo mode unless SPOTIFY_CLIENT_ID is set)
run:
    cargo run --release

# Format the code
fmt:
    cargo fmt --all

# Lint, denying warnings
lint:
    cargo clippy --workspace --all-targets -- -D warnings

# The whole test suite (same as CI)
test:
    bash scripts/test

# Run the standalone Spotify emulator on port 8090
emulator:
    cargo run -p sesh-spotify-emulator -- --listen 127.0.0.1:8090 --control-api

# Benchmarks (see BENCHMARKS.md)
bench *ARGS:
    cargo run --release -p sesh-bench -- {{ARGS}}
