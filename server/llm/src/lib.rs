//! LLM providers behind one trait: OpenAI-compatible chat completions (OpenAI,
//! OpenRouter, Ollama's `/v1`, llama.cpp, vLLM, LM Studio) and the Anthropic Messages
//! API, both streamed as server-sent events. This crate speaks HTTP and the wire
//! formats; callers own redaction, caching, metering and tracing.

pub mod client;
pub mod edit;
pub mod price;
pub mod prompt;
pub mod route;
pub mod sse;
pub mod wire;
