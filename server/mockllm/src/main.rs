//! `warden-mock-llm [PORT]`: serves the scripted loopback LLM on 127.0.0.1 until killed
//! and prints its base URL; the demo points warden at it. With no script queued it
//! answers every request by echoing the code it was sent in a code block.

use clap::Parser;

/// A scripted LLM provider on loopback (OpenAI-compatible and Anthropic, streaming and
/// not) for warden's tests, benchmarks and demo. Prints its base URL, then serves until
/// killed; with no script queued it answers by echoing the code it was sent.
#[derive(Parser)]
#[command(name = "warden-mock-llm", version)]
struct Args {
    /// The port on 127.0.0.1 (0: one the system chooses).
    #[arg(default_value_t = 0)]
    port: u16,
}

fn main() {
    let args = Args::parse();
    let mock = warden_mockllm::MockLlm::start_on(args.port);
    println!("{}", mock.url);
    loop {
        std::thread::park();
    }
}
