//! Known values for front-matter fields: ISO 639-1 language codes, Hub task ids and library ids.
//! Unknown values only produce warnings, so these lists need not be exhaustive.

/// ISO 639-1 codes.
pub const LANGUAGES: &str = "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu";

/// Values the Hub accepts besides language codes.
pub const LANGUAGE_SPECIALS: &[&str] = &["code", "multilingual"];

/// Hub task ids (`pipeline_tag`).
pub const PIPELINE_TAGS: &[&str] = &[
    "text-classification", "token-classification", "table-question-answering", "question-answering",
    "zero-shot-classification", "translation", "summarization", "feature-extraction",
    "text-generation", "text2text-generation", "fill-mask", "sentence-similarity", "text-ranking",
    "text-to-speech", "text-to-audio", "automatic-speech-recognition", "audio-to-audio",
    "audio-classification", "audio-text-to-text", "voice-activity-detection", "depth-estimation",
    "image-classification", "object-detection", "image-segmentation", "text-to-image",
    "image-to-text", "image-to-image", "image-to-video", "unconditional-image-generation",
    "video-classification", "reinforcement-learning", "robotics", "tabular-classification",
    "tabular-regression", "tabular-to-text", "table-to-text", "multiple-choice", "text-retrieval",
    "time-series-forecasting", "text-to-video", "image-text-to-text", "image-text-to-image",
    "image-text-to-video", "visual-question-answering", "document-question-answering",
    "zero-shot-image-classification", "graph-ml", "mask-generation", "zero-shot-object-detection",
    "text-to-3d", "image-to-3d", "image-feature-extraction", "video-text-to-text",
    "keypoint-detection", "visual-document-retrieval", "any-to-any", "video-to-video",
    "conversational", "other",
];

/// Tasks that generate content (for the EU AI Act GPAI heuristic and multimodal checks).
pub const MULTIMODAL_TAGS: &[&str] = &[
    "image-text-to-text", "image-text-to-image", "image-text-to-video", "visual-question-answering",
    "document-question-answering", "video-text-to-text", "audio-text-to-text", "any-to-any",
    "image-to-text",
];

/// Hub library ids (`library_name`).
pub const LIBRARIES: &[&str] = &[
    "adapter-transformers", "allennlp", "asteroid", "bertopic", "chatterbox", "colpali",
    "ctranslate2", "diffusers", "diffusion-single-file", "espnet", "f5-tts", "fairseq", "fastai",
    "fasttext", "flair", "gguf", "gliner", "keras", "keras-hub", "keras-nlp", "lerobot",
    "llama-cpp-python", "llamafile", "mlc-llm", "ml-agents", "mlx", "mlx-image", "model2vec",
    "moshi", "nemo", "onnx", "open_clip", "openvino", "optimum", "paddlenlp", "paddleocr", "peft",
    "pyannote-audio", "pythae", "pytorch", "rl-baselines3-zoo", "sample-factory",
    "sentence-transformers", "setfit", "sklearn", "spacy", "span-marker", "speechbrain",
    "stable-baselines3", "stanza", "tensorflowtts", "tf-keras", "tflite", "timm", "transformers",
    "transformers.js", "unity-sentis", "vllm", "coreml", "tensorrt", "mlx-lm", "unsloth", "jax",
    "flax", "tabpfn", "ultralytics", "yolov5", "whisperkit", "sana", "stable-audio-tools",
];

/// Libraries whose implementation is published under an OSI-approved licence.
pub const OPEN_LIBRARIES: &[&str] = &[
    "transformers", "diffusers", "sentence-transformers", "peft", "timm", "llama-cpp-python",
    "mlx", "mlx-lm", "onnx", "keras", "keras-hub", "open_clip", "vllm", "gguf", "setfit",
    "spacy", "flair", "fairseq", "nemo", "speechbrain", "espnet", "stanza", "sklearn", "fastai",
    "pytorch", "transformers.js", "tf-keras", "ctranslate2", "model2vec", "gliner",
];

/// Whether `code` is an ISO 639-1 code.
pub fn is_language(code: &str) -> bool {
    LANGUAGES.split(' ').any(|c| c == code)
}
