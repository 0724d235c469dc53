//! Parsing and validating a model's answer into entity suggestions. (Filled in by the LLM
//! work: see `parse_suggestions`.)
