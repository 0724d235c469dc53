//! Retry timing for model calls. (Filled in by the LLM work.)
