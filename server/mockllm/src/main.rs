//! `warden-mock-llm [PORT]`: serves the scripted loopback LLM on 127.0.0.1 until killed
//! and prints its base URL; the demo points warden at it. With no script queued it
//! answers every request by echoing the code it was sent in a code block.

fn main() {
    let port = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let mock = warden_mockllm::MockLlm::start_on(port);
    println!("{}", mock.url);
    loop {
        std::thread::park();
    }
}
