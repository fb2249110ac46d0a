//! The open-source libraries that implement model architectures and inference: a repository
//! naming one in `library_name` ships its architecture and inference code by reference.

/// Open-source libraries that implement model architectures and inference, with their licence
/// (SPDX). A repository naming one of these in `library_name` ships its architecture and
/// inference code by reference.
pub const OPEN_LIBRARIES: &[(&str, &str)] = &[
    ("transformers", "Apache-2.0"),
    ("diffusers", "Apache-2.0"),
    ("sentence-transformers", "Apache-2.0"),
    ("peft", "Apache-2.0"),
    ("timm", "Apache-2.0"),
    ("gguf", "MIT"),
    ("llama-cpp-python", "MIT"),
    ("mlx", "MIT"),
    ("mlx-lm", "MIT"),
    ("onnx", "Apache-2.0"),
    ("keras", "Apache-2.0"),
    ("keras-hub", "Apache-2.0"),
    ("tf-keras", "Apache-2.0"),
    ("open_clip", "MIT"),
    ("vllm", "Apache-2.0"),
    ("setfit", "Apache-2.0"),
    ("spacy", "MIT"),
    ("flair", "MIT"),
    ("fairseq", "MIT"),
    ("nemo", "Apache-2.0"),
    ("speechbrain", "Apache-2.0"),
    ("espnet", "Apache-2.0"),
    ("stanza", "Apache-2.0"),
    ("sklearn", "BSD-3-Clause"),
    ("fastai", "Apache-2.0"),
    ("pytorch", "BSD-3-Clause"),
    ("transformers.js", "Apache-2.0"),
    ("ctranslate2", "MIT"),
    ("model2vec", "MIT"),
    ("gliner", "Apache-2.0"),
    ("adapter-transformers", "Apache-2.0"),
    ("allennlp", "Apache-2.0"),
    ("asteroid", "MIT"),
    ("bertopic", "MIT"),
    ("pyannote-audio", "MIT"),
    ("stable-baselines3", "MIT"),
    ("ml-agents", "Apache-2.0"),
    ("paddlenlp", "Apache-2.0"),
    ("span-marker", "Apache-2.0"),
    ("fasttext", "MIT"),
    ("mlc-llm", "Apache-2.0"),
    ("openvino", "Apache-2.0"),
    ("optimum", "Apache-2.0"),
    ("jax", "Apache-2.0"),
    ("flax", "Apache-2.0"),
];

/// The licence of an open library named in `library_name`.
pub fn library_license(name: &str) -> Option<&'static str> {
    OPEN_LIBRARIES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, l)| *l)
}
