//! What a call cost: USD per million input, cached-input and output tokens by model,
//! from `llm.prices` over a built-in table of common hosted models. A model is looked
//! up by its full name, then without an OpenRouter-style `vendor/` prefix, then by the
//! longest table key it starts with (`claude-sonnet-4-20250514` → `claude-sonnet-4`).
//! Unknown models (local ones) cost nothing.

use std::collections::BTreeMap;

use warden_config::Price;

use crate::wire::Usage;

/// (model, input, cached input, output) in USD per million tokens.
const BUILTIN: &[(&str, f64, f64, f64)] = &[
    ("gpt-4o", 2.5, 1.25, 10.0),
    ("gpt-4o-mini", 0.15, 0.075, 0.6),
    ("gpt-4.1", 2.0, 0.5, 8.0),
    ("gpt-4.1-mini", 0.4, 0.1, 1.6),
    ("o3-mini", 1.1, 0.55, 4.4),
    ("claude-sonnet-4", 3.0, 0.3, 15.0),
    ("claude-3-7-sonnet", 3.0, 0.3, 15.0),
    ("claude-3-5-haiku", 0.8, 0.08, 4.0),
    ("claude-opus-4", 15.0, 1.5, 75.0),
    ("deepseek-chat", 0.27, 0.07, 1.1),
    ("deepseek-reasoner", 0.55, 0.14, 2.19),
];

/// The price of `model`, if known.
pub fn price_of(model: &str, overrides: &BTreeMap<String, Price>) -> Option<Price> {
    let short = model.rsplit_once('/').map_or(model, |(_, m)| m);
    let table: Vec<(&str, Price)> = overrides
        .iter()
        .map(|(k, p)| (k.as_str(), *p))
        .chain(BUILTIN.iter().map(|&(k, input, cached, output)| {
            (
                k,
                Price {
                    input,
                    output,
                    cached: Some(cached),
                },
            )
        }))
        .collect();
    for name in [model, short] {
        if let Some((_, p)) = table.iter().find(|(k, _)| *k == name) {
            return Some(*p);
        }
    }
    table
        .iter()
        .filter(|(k, _)| short.starts_with(k))
        .max_by_key(|(k, _)| k.len())
        .map(|(_, p)| *p)
}

/// USD for one call's usage.
pub fn cost(model: &str, usage: &Usage, overrides: &BTreeMap<String, Price>) -> f64 {
    let Some(p) = price_of(model, overrides) else {
        return 0.0;
    };
    let cached = usage.cached.min(usage.input) as f64;
    let fresh = usage.input as f64 - cached;
    (fresh * p.input + cached * p.cached.unwrap_or(p.input) + usage.output as f64 * p.output)
        / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_by_name_prefix_and_override() {
        let none = BTreeMap::new();
        let u = Usage {
            input: 1_000_000,
            output: 1_000_000,
            cached: 400_000,
            reasoning: 0,
        };
        // 0.6M fresh at 3.0 + 0.4M cached at 0.3 + 1M out at 15.
        let c = cost("anthropic/claude-sonnet-4-20250514", &u, &none);
        assert!((c - (1.8 + 0.12 + 15.0)).abs() < 1e-9, "{c}");
        assert_eq!(cost("qwen2.5-coder:7b", &u, &none), 0.0);
        // gpt-4o-mini is not priced as gpt-4o (longest prefix wins).
        assert_eq!(
            price_of("gpt-4o-mini-2024-07-18", &none).unwrap().input,
            0.15
        );
        let mut mine = BTreeMap::new();
        mine.insert(
            "qwen2.5-coder:7b".to_owned(),
            Price {
                input: 1.0,
                output: 2.0,
                cached: None,
            },
        );
        assert!((cost("qwen2.5-coder:7b", &u, &mine) - 3.0).abs() < 1e-9);
    }
}
