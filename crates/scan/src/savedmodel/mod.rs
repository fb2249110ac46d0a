//! TensorFlow SavedModel (`saved_model.pb`), frozen `GraphDef` and Keras `keras_metadata.pb`
//! files: every op that TensorFlow could run on load is checked against a denylist of ops that
//! touch the file system or call Python.
//!
//! The protobuf is decoded by hand over the wire format, with the format readers' decoder
//! ([`weighhouse_formats::proto`]), and nesting bounded by [`MAX_DEPTH`]. The op names it judges
//! nodes by are in [`ops`]. All meta graphs are walked: the graph's nodes, every function of
//! the library (whether anything calls it or not), and the functions named by function-valued
//! attributes (`f`, `then_branch`, `body`, ... at any depth of `NameAttrList`). The Keras
//! metadata JSON kept in the object graph (`SavedUserObject.metadata`) and in
//! `keras_metadata.pb` is handed to [`crate::keras::scan_config`], because `keras.models.load_model`
//! revives layers, Lambda layers included, from it.
//!
//! # Rules
//!
//! | rule | severity | when |
//! |---|---|---|
//! | `tf.dangerous_op` | critical | `ReadFile`, `WriteFile`, `MatchingFiles`, `ImmutableConst`, `DebugIdentity*`, summary/dataset file writers, `PyFunc`, `EagerPyFunc`, `PyFuncStateless`; `PrintV2` whose `output_stream` is `file://...`; `DecodeProtoV2` whose `descriptor_source` is a file; a checkpoint op (`Save`, `SaveV2`, `SaveSlices`, `Restore`, `RestoreV2`, `RestoreSlice`, `MergeV2Checkpoints`) that is not the saver's own (below) |
//! | `tf.file_read` | high | ops that open files named by their inputs (`TFRecordDataset`, `TextLineDataset`, readers, `LoadAndRemapMatrix`, ...) |
//! | `tf.unknown_op` | medium | an op that is neither in the list of common TensorFlow ops nor a function of the library |
//! | `tf.print_stream` | medium | `PrintV2` with an `output_stream` that is not a standard stream or log level |
//! | `tf.protobuf` | — | (incomplete only) malformed protobuf, or nesting beyond the limit |
//!
//! # Checkpoint ops and the saver
//!
//! Every SavedModel holds `SaveV2`, `RestoreV2` and `MergeV2Checkpoints`: TensorFlow writes a
//! saver into it, recorded in `MetaGraphDef.saver_def`. With TF 2 the saver is two graph nodes
//! (`StatefulPartitionedCall_1` for saving, `StatefulPartitionedCall_2` for restoring) that call
//! `__inference__traced_save_N` / `__inference__traced_restore_N` with the placeholder
//! `saver_filename`; inside, the path is `file_prefix` joined with a constant suffix
//! (`StringJoin`, `ShardedFilename`, `Select` between `.part` and `_temp/part`). With TF 1 the
//! saver is the `save/` scope of the graph, built on the `save/Const` filename tensor. The loader
//! only runs it with the path of the model's own `variables/` folder.
//!
//! A checkpoint op is accepted as the saver's own only when all three hold:
//!
//! 1. **It belongs to the saver**: it is reachable from `saver_def.save_tensor_name` or
//!    `saver_def.restore_op_name` (through data and control inputs in the graph, and into
//!    called functions).
//! 2. **Nothing else reaches it**: it is not reachable from anything else the loader runs,
//!    that is signature outputs (including `__saved_model_init_op`) and the init/main/table
//!    initialiser ops of the collections.
//! 3. **Its path comes from the saver's filename**: every path input (the prefix of
//!    `Save*`/`Restore*`, both inputs of `MergeV2Checkpoints`) is `saver_def.filename_tensor_name`,
//!    or a function argument that *every* call site feeds from it (a greatest fixpoint over the
//!    call graph), passed through `Identity`, `ShardedFilename`, `Pack`, or a `StringJoin`
//!    whose first part is such a path and whose other parts are constant suffixes without `..`
//!    components, NULs, or separators at their start (`Select` between such constants allowed).
//!
//! Anything else (a `SaveV2` in a serving function, a `RestoreV2` reading a constant path, a
//! checkpoint op in a graph without `saver_def`) is `tf.dangerous_op`.

use std::cell::Cell;
use std::collections::{HashMap, HashSet, VecDeque};

use weighhouse_formats::proto::{Fields, Wire};

use crate::error::SavedModelError;
use crate::report::{Report, Severity};

mod ops;

use ops::{CHECKPOINT, DENY, FILE_READ, KNOWN};

/// Deepest protobuf nesting followed (NameAttrList inside AttrValue inside ...).
pub(crate) const MAX_DEPTH: usize = 64;

/// A decoded `NodeDef`.
#[derive(Debug, Default)]
struct Node {
    name: String,
    op: String,
    /// Input names as written (`x`, `x:1`, `^ctl`, `fn:output:0`).
    inputs: Vec<String>,
    /// `(attr name, string values)`: `s` and `list.s`, and string tensors.
    strings: Vec<(String, Vec<Vec<u8>>)>,
    /// Function names in function-valued attributes, at any depth: `(attr name, function)`.
    funcs: Vec<(String, String)>,
}

#[derive(Debug, Default)]
struct Function {
    name: String,
    args: Vec<String>,
    nodes: Vec<Node>,
}

#[derive(Debug, Default)]
struct Saver {
    filename: String,
    save: String,
    restore: String,
}

#[derive(Debug, Default)]
struct Meta {
    nodes: Vec<Node>,
    functions: Vec<Function>,
    saver: Option<Saver>,
    /// Tensor names the loader may run: signature inputs/outputs, init ops, collections.
    roots: Vec<String>,
    /// Keras metadata JSON documents from the object graph.
    keras_json: Vec<String>,
}

type R<T> = Result<T, SavedModelError>;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn len_field<'a>(v: Wire<'a>, what: &'static str) -> R<&'a [u8]> {
    v.bytes().ok_or(SavedModelError::WrongWireType(what))
}

/// A map entry (`key = 1`, `value = 2`).
fn map_entry(b: &[u8]) -> R<(String, Option<&[u8]>)> {
    let mut key = String::new();
    let mut value = None;
    for f in Fields::new(b) {
        match f? {
            (1, Wire::Len(k)) => key = text(k),
            (2, Wire::Len(v)) => value = Some(v),
            _ => {}
        }
    }
    Ok((key, value))
}

fn node_def(b: &[u8], depth: usize) -> R<Node> {
    let mut n = Node::default();
    for f in Fields::new(b) {
        match f? {
            (1, v) => n.name = text(len_field(v, "NodeDef.name")?),
            (2, v) => n.op = text(len_field(v, "NodeDef.op")?),
            (3, v) => n.inputs.push(text(len_field(v, "NodeDef.input")?)),
            (5, v) => {
                let (key, value) = map_entry(len_field(v, "NodeDef.attr")?)?;
                if let Some(value) = value {
                    let mut strings = Vec::new();
                    let mut funcs = Vec::new();
                    attr_value(value, depth + 1, &mut strings, &mut funcs)?;
                    if !strings.is_empty() {
                        n.strings.push((key.clone(), strings));
                    }
                    n.funcs.extend(funcs.into_iter().map(|f| (key.clone(), f)));
                }
            }
            _ => {}
        }
    }
    Ok(n)
}

/// An `AttrValue`: collect its strings and the functions it names.
fn attr_value(
    b: &[u8],
    depth: usize,
    strings: &mut Vec<Vec<u8>>,
    funcs: &mut Vec<String>,
) -> R<()> {
    if depth > MAX_DEPTH {
        return Err(SavedModelError::AttrsTooDeep(MAX_DEPTH));
    }
    for f in Fields::new(b) {
        match f? {
            (2, Wire::Len(s)) => strings.push(s.to_vec()),
            (8, Wire::Len(t)) => tensor_strings(t, strings)?,
            (10, Wire::Len(func)) => name_attr_list(func, depth + 1, strings, funcs)?,
            (1, Wire::Len(list)) => {
                for f in Fields::new(list) {
                    match f? {
                        (2, Wire::Len(s)) => strings.push(s.to_vec()),
                        (8, Wire::Len(t)) => tensor_strings(t, strings)?,
                        (9, Wire::Len(func)) => name_attr_list(func, depth + 1, strings, funcs)?,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn name_attr_list(
    b: &[u8],
    depth: usize,
    strings: &mut Vec<Vec<u8>>,
    funcs: &mut Vec<String>,
) -> R<()> {
    for f in Fields::new(b) {
        match f? {
            (1, Wire::Len(name)) => funcs.push(text(name)),
            (2, Wire::Len(entry)) => {
                if let (_, Some(v)) = map_entry(entry)? {
                    attr_value(v, depth + 1, strings, funcs)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The `string_val`s of a `TensorProto`.
fn tensor_strings(b: &[u8], strings: &mut Vec<Vec<u8>>) -> R<()> {
    for f in Fields::new(b) {
        if let (8, Wire::Len(s)) = f? {
            strings.push(s.to_vec());
        }
    }
    Ok(())
}

fn function_def(b: &[u8]) -> R<Function> {
    let mut func = Function::default();
    for f in Fields::new(b) {
        match f? {
            (1, Wire::Len(sig)) => {
                for f in Fields::new(sig) {
                    match f? {
                        (1, Wire::Len(name)) => func.name = text(name),
                        (2, Wire::Len(arg)) => {
                            let mut name = String::new();
                            for f in Fields::new(arg) {
                                if let (1, Wire::Len(n)) = f? {
                                    name = text(n);
                                }
                            }
                            func.args.push(name);
                        }
                        _ => {}
                    }
                }
            }
            (3, Wire::Len(node)) => func.nodes.push(node_def(node, 0)?),
            _ => {}
        }
    }
    Ok(func)
}

fn graph_def(b: &[u8], meta: &mut Meta) -> R<()> {
    for f in Fields::new(b) {
        match f? {
            (1, Wire::Len(node)) => meta.nodes.push(node_def(node, 0)?),
            (2, Wire::Len(lib)) => {
                for f in Fields::new(lib) {
                    if let (1, Wire::Len(func)) = f? {
                        meta.functions.push(function_def(func)?);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn meta_graph(b: &[u8]) -> R<Meta> {
    let mut meta = Meta::default();
    for f in Fields::new(b) {
        match f? {
            (2, Wire::Len(g)) => graph_def(g, &mut meta)?,
            (3, Wire::Len(s)) => {
                let mut saver = Saver::default();
                for f in Fields::new(s) {
                    match f? {
                        (1, Wire::Len(x)) => saver.filename = text(x),
                        (2, Wire::Len(x)) => saver.save = text(x),
                        (3, Wire::Len(x)) => saver.restore = text(x),
                        _ => {}
                    }
                }
                meta.saver = Some(saver);
            }
            (4, Wire::Len(entry)) => {
                // collection_def: node_list (1) / bytes_list (2) values name ops to run.
                let (_, value) = map_entry(entry)?;
                if let Some(value) = value {
                    for f in Fields::new(value) {
                        if let (1 | 2, Wire::Len(list)) = f? {
                            for f in Fields::new(list) {
                                if let (1, Wire::Len(v)) = f? {
                                    meta.roots.push(text(v));
                                }
                            }
                        }
                    }
                }
            }
            (5, Wire::Len(entry)) => {
                // signature_def: inputs (1) / outputs (2) are map<string, TensorInfo>.
                let (_, value) = map_entry(entry)?;
                if let Some(sig) = value {
                    for f in Fields::new(sig) {
                        if let (1 | 2, Wire::Len(e)) = f?
                            && let (_, Some(info)) = map_entry(e)?
                        {
                            for f in Fields::new(info) {
                                if let (1, Wire::Len(name)) = f? {
                                    meta.roots.push(text(name));
                                }
                            }
                        }
                    }
                }
            }
            (7, Wire::Len(og)) => object_graph(og, &mut meta)?,
            _ => {}
        }
    }
    Ok(meta)
}

/// `SavedObjectGraph`: the Keras metadata of user objects.
fn object_graph(b: &[u8], meta: &mut Meta) -> R<()> {
    for f in Fields::new(b) {
        if let (1, Wire::Len(obj)) = f? {
            for f in Fields::new(obj) {
                if let (4, Wire::Len(user)) = f? {
                    for f in Fields::new(user) {
                        if let (3, Wire::Len(md)) = f?
                            && !md.is_empty()
                        {
                            meta.keras_json.push(text(md));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// What kind of protobuf `data` holds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    SavedModel,
    GraphDef,
    KerasMetadata,
}

fn printable_name(b: &[u8]) -> bool {
    !b.is_empty()
        && b.len() <= 1024
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"_>./-:".contains(&c))
}

fn kind(data: &[u8]) -> Option<Kind> {
    let mut top = Vec::new();
    for f in Fields::new(data) {
        top.push(f.ok()?);
        if top.len() > 4096 {
            break;
        }
    }
    if top.is_empty() {
        return None;
    }
    // SavedModel: schema version (1, varint) and meta graphs (2).
    if top
        .iter()
        .all(|(n, v)| matches!((n, v), (1, Wire::Varint(_)) | (2, Wire::Len(_))))
        && let Some((_, Wire::Len(mg))) = top.iter().find(|(n, _)| *n == 2)
    {
        let ok = Fields::new(mg).all(|f| matches!(f, Ok((1..=9, Wire::Len(_))) | Ok((10.., _))));
        if ok {
            return Some(Kind::SavedModel);
        }
    }
    // GraphDef: nodes (1), library (2), version (3), versions (4).
    if top
        .iter()
        .all(|(n, v)| matches!((n, v), (1 | 2 | 4, Wire::Len(_)) | (3, Wire::Varint(_))))
    {
        let first = top.iter().find(|(n, _)| *n == 1).map(|(_, v)| *v);
        if let Some(Wire::Len(node)) = first {
            let mut name = false;
            let mut op = false;
            let mut ok = true;
            for f in Fields::new(node) {
                match f {
                    Ok((1, Wire::Len(b))) => name = !b.is_empty(),
                    Ok((2, Wire::Len(b))) => op = printable_name(b),
                    Ok((3..=7, Wire::Len(_))) => {}
                    _ => ok = false,
                }
            }
            if ok && name && op {
                return Some(Kind::GraphDef);
            }
            // keras_metadata.pb: SavedMetadata { repeated SavedObject nodes = 1 } with
            // node_id (2, varint), node_path (3), identifier (4), metadata (5), version (6).
            let mut ok = top.iter().all(|(n, _)| *n == 1);
            let mut json = false;
            for f in Fields::new(node) {
                match f {
                    Ok((2, Wire::Varint(_))) => {}
                    Ok((3 | 4 | 6, Wire::Len(_))) => {}
                    Ok((5, Wire::Len(b))) => json = b.trim_ascii_start().first() == Some(&b'{'),
                    _ => ok = false,
                }
            }
            if ok && json {
                return Some(Kind::KerasMetadata);
            }
        } else if first.is_none() && top.iter().any(|(n, _)| *n == 2) {
            return Some(Kind::GraphDef);
        }
    }
    None
}

/// Whether `data` looks like a SavedModel, a GraphDef or a Keras `keras_metadata.pb`. The
/// scanner's own test ([`weighhouse_formats::sniff`] has none: the format readers do not read
/// these protobufs, which have no magic number).
pub(crate) fn looks_like(data: &[u8]) -> bool {
    kind(data).is_some()
}

/// Scan a SavedModel, GraphDef or Keras metadata protobuf.
pub(crate) fn scan(data: &[u8], loc: &str, r: &mut Report) {
    r.format("savedmodel");
    let res = match kind(data) {
        Some(Kind::KerasMetadata) => keras_metadata(data, loc, r),
        Some(Kind::GraphDef) => {
            let mut meta = Meta::default();
            graph_def(data, &mut meta)
                .map(|()| vec![meta])
                .map(|metas| check_all(metas, loc, r))
        }
        // Parse as a SavedModel even when the heuristic is unsure: a malformed file is then
        // reported incomplete rather than silently passed.
        Some(Kind::SavedModel) | None => saved_model(data).map(|metas| check_all(metas, loc, r)),
    };
    if let Err(why) = res {
        r.incomplete(loc, format!("TensorFlow protobuf: {why}"));
    }
}

fn saved_model(data: &[u8]) -> R<Vec<Meta>> {
    let mut metas = Vec::new();
    let mut any = false;
    for f in Fields::new(data) {
        match f? {
            (2, Wire::Len(mg)) => {
                any = true;
                metas.push(meta_graph(mg)?);
            }
            (1, Wire::Varint(_)) => any = true,
            (n, _) => return Err(SavedModelError::UnexpectedField(n)),
        }
    }
    if !any {
        return Err(SavedModelError::Empty);
    }
    Ok(metas)
}

fn keras_metadata(data: &[u8], loc: &str, r: &mut Report) -> R<()> {
    r.format("keras-metadata");
    for (i, f) in Fields::new(data).enumerate() {
        if let (1, Wire::Len(node)) = f? {
            for f in Fields::new(node) {
                if let (5, Wire::Len(md)) = f? {
                    crate::keras::scan_config(&text(md), &format!("{loc}!node:{i}"), r);
                }
            }
        }
    }
    Ok(())
}

fn check_all(metas: Vec<Meta>, loc: &str, r: &mut Report) {
    let many = metas.len() > 1;
    for (i, meta) in metas.iter().enumerate() {
        let l = if many {
            format!("{loc}!meta_graph:{i}")
        } else {
            loc.to_string()
        };
        check(meta, &l, r);
    }
}

/// The node (or argument) name an input refers to, and whether it is a control input.
fn input_node(input: &str) -> (&str, bool) {
    let control = input.starts_with('^');
    let s = input.trim_start_matches('^');
    (s.split(':').next().unwrap_or(s), control)
}

/// Where a node lives: the graph, or the function with this index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Ctx {
    Graph,
    Func(usize),
}

struct Analysis<'m> {
    meta: &'m Meta,
    func_index: HashMap<&'m str, usize>,
    graph_index: HashMap<&'m str, usize>,
    func_node_index: Vec<HashMap<&'m str, usize>>,
    /// Trusted path arguments of each function (indices).
    trusted: Vec<HashSet<usize>>,
    /// Steps left for path tracing; once spent, paths count as untrusted (more findings, never
    /// fewer).
    budget: Cell<u64>,
}

/// Most path-tracing steps for one meta graph.
const PATH_BUDGET: u64 = 20_000_000;
/// Most rounds of the trusted-argument fixpoint; past it nothing is trusted.
const MAX_ROUNDS: usize = 256;

/// Ops that call a function positionally with their data inputs.
fn is_call_op(op: &str) -> bool {
    matches!(
        op,
        "StatefulPartitionedCall" | "PartitionedCall" | "TPUPartitionedCall"
    )
}

/// Whether a constant suffix is harmless to append to a trusted path.
fn suffix_ok(s: &[u8]) -> bool {
    let s = String::from_utf8_lossy(s);
    !s.contains('\0')
        && !s.starts_with('/')
        && !s.starts_with('\\')
        && !s.contains("://")
        && !s.split(['/', '\\']).any(|c| c == "..")
}

impl<'m> Analysis<'m> {
    fn new(meta: &'m Meta) -> Self {
        let func_index = meta
            .functions
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.as_str(), i))
            .collect();
        let graph_index = meta
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_str(), i))
            .collect();
        let func_node_index = meta
            .functions
            .iter()
            .map(|f| {
                f.nodes
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (n.name.as_str(), i))
                    .collect()
            })
            .collect();
        Self {
            meta,
            func_index,
            graph_index,
            func_node_index,
            trusted: Vec::new(),
            budget: Cell::new(PATH_BUDGET),
        }
    }

    fn nodes(&self, ctx: Ctx) -> &'m [Node] {
        match ctx {
            Ctx::Graph => &self.meta.nodes,
            Ctx::Func(i) => &self.meta.functions[i].nodes,
        }
    }

    fn lookup(&self, ctx: Ctx, name: &str) -> Option<&'m Node> {
        let i = match ctx {
            Ctx::Graph => self.graph_index.get(name)?,
            Ctx::Func(f) => self.func_node_index[f].get(name)?,
        };
        self.nodes(ctx).get(*i)
    }

    /// The functions `n` calls, each with whether it is a positional call.
    fn callees(&self, n: &Node) -> Vec<(usize, bool)> {
        let mut out = Vec::new();
        if let Some(&f) = self.func_index.get(n.op.as_str()) {
            out.push((f, true));
        }
        for (attr, name) in &n.funcs {
            if let Some(&f) = self.func_index.get(name.as_str()) {
                out.push((f, is_call_op(&n.op) && attr == "f"));
            }
        }
        out
    }

    fn spend(&self) -> bool {
        let left = self.budget.get();
        self.budget.set(left.saturating_sub(1));
        left > 0
    }

    /// Whether `input` (in `ctx`) is the saver's filename or a path derived from it.
    fn path_ok(&self, ctx: Ctx, input: &str, depth: usize) -> bool {
        if depth > MAX_DEPTH || !self.spend() {
            return false;
        }
        let (name, control) = input_node(input);
        if control {
            return false;
        }
        if let Ctx::Func(f) = ctx {
            let func = &self.meta.functions[f];
            if let Some(i) = func.args.iter().position(|a| a == name) {
                return self.trusted[f].contains(&i);
            }
        } else if let Some(s) = &self.meta.saver {
            let (fname, _) = input_node(&s.filename);
            if !fname.is_empty() && fname == name {
                return true;
            }
        }
        let Some(n) = self.lookup(ctx, name) else {
            return false;
        };
        let data: Vec<&String> = n.inputs.iter().filter(|i| !i.starts_with('^')).collect();
        match n.op.as_str() {
            "Identity" | "ShardedFilename" | "ShardedFilespec" => data
                .first()
                .is_some_and(|i| self.path_ok(ctx, i, depth + 1)),
            "Pack" => !data.is_empty() && data.iter().all(|i| self.path_ok(ctx, i, depth + 1)),
            "StringJoin" => {
                let sep_ok = n
                    .strings
                    .iter()
                    .filter(|(k, _)| k == "separator")
                    .all(|(_, v)| {
                        v.iter()
                            .all(|s| suffix_ok(s) && !s.contains(&b'/') && !s.contains(&b'\\'))
                    });
                sep_ok
                    && data
                        .first()
                        .is_some_and(|i| self.path_ok(ctx, i, depth + 1))
                    && data[1..]
                        .iter()
                        .all(|i| self.suffix_input_ok(ctx, i, depth + 1))
            }
            _ => false,
        }
    }

    /// Whether `input` is a constant suffix (or a `Select` between such constants).
    fn suffix_input_ok(&self, ctx: Ctx, input: &str, depth: usize) -> bool {
        if depth > MAX_DEPTH || !self.spend() {
            return false;
        }
        let (name, control) = input_node(input);
        if control {
            return false;
        }
        let Some(n) = self.lookup(ctx, name) else {
            return false;
        };
        let data: Vec<&String> = n.inputs.iter().filter(|i| !i.starts_with('^')).collect();
        match n.op.as_str() {
            "Const" => n
                .strings
                .iter()
                .filter(|(k, _)| k == "value")
                .all(|(_, v)| v.iter().all(|s| suffix_ok(s))),
            "Identity" => data
                .first()
                .is_some_and(|i| self.suffix_input_ok(ctx, i, depth + 1)),
            "Select" | "SelectV2" => {
                data.len() == 3
                    && data[1..]
                        .iter()
                        .all(|i| self.suffix_input_ok(ctx, i, depth + 1))
            }
            _ => false,
        }
    }

    /// Greatest fixpoint of the trusted path arguments of every function.
    fn compute_trusted(&mut self) {
        let meta = self.meta;
        // Call sites: (caller ctx, node, callee, positional).
        let mut sites: Vec<(Ctx, &Node, usize, bool)> = Vec::new();
        for n in &meta.nodes {
            for (f, pos) in self.callees(n) {
                sites.push((Ctx::Graph, n, f, pos));
            }
        }
        for (fi, func) in meta.functions.iter().enumerate() {
            for n in &func.nodes {
                for (f, pos) in self.callees(n) {
                    sites.push((Ctx::Func(fi), n, f, pos));
                }
            }
        }
        let mut called = vec![false; meta.functions.len()];
        for s in &sites {
            called[s.2] = true;
        }
        self.trusted = meta
            .functions
            .iter()
            .enumerate()
            .map(|(i, f)| {
                if called[i] {
                    (0..f.args.len()).collect()
                } else {
                    HashSet::new()
                }
            })
            .collect();
        // Each round removes at least one argument, so this ends; rounds are capped all the same.
        let mut rounds = 0;
        loop {
            rounds += 1;
            if rounds > MAX_ROUNDS {
                self.trusted.iter_mut().for_each(HashSet::clear);
                break;
            }
            let mut changed = false;
            for &(ctx, n, f, pos) in &sites {
                let args: Vec<usize> = self.trusted[f].iter().copied().collect();
                for a in args {
                    let ok = pos
                        && n.inputs
                            .iter()
                            .filter(|i| !i.starts_with('^'))
                            .nth(a)
                            .is_some_and(|i| self.path_ok(ctx, i, 0));
                    if !ok {
                        self.trusted[f].remove(&a);
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// Everything reachable from `roots` (graph tensor names): graph nodes through data and
    /// control inputs, functions through calls (all of a reached function counts).
    fn reach(&self, roots: &[&str]) -> (HashSet<usize>, HashSet<usize>) {
        let mut nodes = HashSet::new();
        let mut funcs = HashSet::new();
        let mut queue: VecDeque<Ctx> = VecDeque::new();
        let mut stack: Vec<usize> = roots
            .iter()
            .filter_map(|r| self.graph_index.get(input_node(r).0).copied())
            .collect();
        while let Some(i) = stack.pop() {
            if !nodes.insert(i) {
                continue;
            }
            let n = &self.meta.nodes[i];
            for input in &n.inputs {
                if let Some(&j) = self.graph_index.get(input_node(input).0) {
                    stack.push(j);
                }
            }
            for (f, _) in self.callees(n) {
                if funcs.insert(f) {
                    queue.push_back(Ctx::Func(f));
                }
            }
        }
        while let Some(Ctx::Func(f)) = queue.pop_front() {
            for n in &self.meta.functions[f].nodes {
                for (g, _) in self.callees(n) {
                    if funcs.insert(g) {
                        queue.push_back(Ctx::Func(g));
                    }
                }
            }
        }
        (nodes, funcs)
    }
}

fn check(meta: &Meta, loc: &str, r: &mut Report) {
    let mut a = Analysis::new(meta);
    a.compute_trusted();
    let (saver_nodes, saver_funcs, other_nodes, other_funcs) = match &meta.saver {
        Some(s) => {
            let (sn, sf) = a.reach(&[s.save.as_str(), s.restore.as_str()]);
            let others: Vec<&str> = meta.roots.iter().map(String::as_str).collect();
            let (on, of) = a.reach(&others);
            (sn, sf, on, of)
        }
        None => Default::default(),
    };
    let library: HashSet<&str> = meta.functions.iter().map(|f| f.name.as_str()).collect();

    let mut visit = |ctx: Ctx, idx: usize, n: &Node, here: String| {
        let saver_ctx = match ctx {
            Ctx::Graph => saver_nodes.contains(&idx) && !other_nodes.contains(&idx),
            Ctx::Func(f) => saver_funcs.contains(&f) && !other_funcs.contains(&f),
        };
        check_node(&a, ctx, n, saver_ctx, &library, &here, r);
    };
    for (i, n) in meta.nodes.iter().enumerate() {
        visit(Ctx::Graph, i, n, format!("{loc}!graph:{}", n.name));
    }
    for (fi, func) in meta.functions.iter().enumerate() {
        for (i, n) in func.nodes.iter().enumerate() {
            visit(
                Ctx::Func(fi),
                i,
                n,
                format!("{loc}!function:{}!node:{}", func.name, n.name),
            );
        }
    }
    for (i, md) in meta.keras_json.iter().enumerate() {
        let t = md.trim_start();
        if t.starts_with('{') || t.starts_with('[') {
            crate::keras::scan_config(md, &format!("{loc}!object_graph:{i}"), r);
        }
    }
}

fn attr_strings<'n>(n: &'n Node, key: &str) -> impl Iterator<Item = String> + 'n {
    let key = key.to_string();
    n.strings
        .iter()
        .filter(move |(k, _)| *k == key)
        .flat_map(|(_, v)| v.iter().map(|s| text(s)))
}

fn check_node(
    a: &Analysis<'_>,
    ctx: Ctx,
    n: &Node,
    saver_ctx: bool,
    library: &HashSet<&str>,
    here: &str,
    r: &mut Report,
) {
    let op = n.op.as_str();
    if let Some((_, why)) = DENY.iter().find(|(d, _)| *d == op) {
        r.add(
            "tf.dangerous_op",
            Severity::Critical,
            here,
            format!("TensorFlow op {op} {why}"),
        );
        return;
    }
    match op {
        "PrintV2" => {
            for s in attr_strings(n, "output_stream") {
                if s.starts_with("file://") {
                    r.add(
                        "tf.dangerous_op",
                        Severity::Critical,
                        here,
                        format!("TensorFlow op PrintV2 appends to the file {s:?} (output_stream)"),
                    );
                } else if !matches!(
                    s.as_str(),
                    "stdout" | "stderr" | "log(info)" | "log(warning)" | "log(error)"
                ) {
                    r.add(
                        "tf.print_stream",
                        Severity::Medium,
                        here,
                        format!("TensorFlow op PrintV2 writes to the unusual stream {s:?}"),
                    );
                }
            }
            return;
        }
        "DecodeProtoV2" => {
            for s in attr_strings(n, "descriptor_source") {
                if s != "local://" && !s.starts_with("bytes://") {
                    r.add(
                        "tf.dangerous_op",
                        Severity::Critical,
                        here,
                        format!("TensorFlow op DecodeProtoV2 reads the descriptor file {s:?}"),
                    );
                    return;
                }
            }
            return;
        }
        _ => {}
    }
    if CHECKPOINT.contains(&op) {
        let data: Vec<&String> = n.inputs.iter().filter(|i| !i.starts_with('^')).collect();
        let paths: &[usize] = if op == "MergeV2Checkpoints" {
            &[0, 1]
        } else {
            &[0]
        };
        let path_ok = paths
            .iter()
            .all(|&p| data.get(p).is_some_and(|i| a.path_ok(ctx, i, 0)));
        if !(saver_ctx && path_ok) {
            let why = if !saver_ctx {
                "outside the model's saver (not reached only from saver_def)"
            } else {
                "with a path that is not the saver's filename"
            };
            r.add(
                "tf.dangerous_op",
                Severity::Critical,
                here,
                format!("TensorFlow checkpoint op {op} {why}: it reads or writes files"),
            );
        }
        return;
    }
    if FILE_READ.contains(&op) {
        r.add(
            "tf.file_read",
            Severity::High,
            here,
            format!("TensorFlow op {op} opens files named by its inputs"),
        );
        return;
    }
    if !KNOWN.contains(&op) && !library.contains(op) {
        r.add(
            "tf.unknown_op",
            Severity::Medium,
            here,
            format!("TensorFlow op {op:?} is not a common op: a custom or unregistered op needs code outside the model"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;
    use crate::testutil::{corpus_file, fl, fv};

    fn scan_bytes(b: &[u8]) -> Report {
        let mut r = Report::default();
        scan(b, "saved_model.pb", &mut r);
        r
    }

    fn attr_s(key: &str, s: &str) -> Vec<u8> {
        fl(
            5,
            &[fl(1, key.as_bytes()), fl(2, &fl(2, s.as_bytes()))].concat(),
        )
    }
    fn attr_f(key: &str, f: &str) -> Vec<u8> {
        fl(
            5,
            &[fl(1, key.as_bytes()), fl(2, &fl(10, &fl(1, f.as_bytes())))].concat(),
        )
    }
    fn attr_const(s: &str) -> Vec<u8> {
        let tensor = [fv(1, 7), fl(8, s.as_bytes())].concat();
        fl(5, &[fl(1, b"value"), fl(2, &fl(8, &tensor))].concat())
    }
    fn node(name: &str, op: &str, inputs: &[&str], attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut n = [fl(1, name.as_bytes()), fl(2, op.as_bytes())].concat();
        for i in inputs {
            n.extend(fl(3, i.as_bytes()));
        }
        for a in attrs {
            n.extend(a);
        }
        n
    }
    fn function(name: &str, args: &[&str], nodes: &[Vec<u8>]) -> Vec<u8> {
        let mut sig = fl(1, name.as_bytes());
        for a in args {
            sig.extend(fl(2, &fl(1, a.as_bytes())));
        }
        let mut f = fl(1, &sig);
        for n in nodes {
            f.extend(fl(3, n));
        }
        f
    }
    fn saved_model(
        nodes: &[Vec<u8>],
        funcs: &[Vec<u8>],
        saver: Option<(&str, &str, &str)>,
        sig_outputs: &[&str],
    ) -> Vec<u8> {
        let mut graph = Vec::new();
        for n in nodes {
            graph.extend(fl(1, n));
        }
        let mut lib = Vec::new();
        for f in funcs {
            lib.extend(fl(1, f));
        }
        if !lib.is_empty() {
            graph.extend(fl(2, &lib));
        }
        let mut mg = [fl(1, &fl(4, b"serve")), fl(2, &graph)].concat();
        if let Some((f, s, r)) = saver {
            mg.extend(fl(
                3,
                &[
                    fl(1, f.as_bytes()),
                    fl(2, s.as_bytes()),
                    fl(3, r.as_bytes()),
                ]
                .concat(),
            ));
        }
        for o in sig_outputs {
            let info = fl(1, o.as_bytes());
            let outputs = fl(2, &[fl(1, b"out"), fl(2, &info)].concat());
            mg.extend(fl(
                5,
                &[fl(1, b"serving_default"), fl(2, &outputs)].concat(),
            ));
        }
        [fv(1, 1), fl(2, &mg)].concat()
    }

    /// A TF 2-style saver: graph call nodes and the traced save/restore functions.
    fn tf2_saver() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let nodes = vec![
            node("saver_filename", "Placeholder", &[], &[]),
            node(
                "StatefulPartitionedCall_1",
                "StatefulPartitionedCall",
                &["saver_filename", "Const"],
                &[attr_f("f", "__inference__traced_save_9")],
            ),
            node(
                "StatefulPartitionedCall_2",
                "StatefulPartitionedCall",
                &["saver_filename"],
                &[attr_f("f", "__inference__traced_restore_10")],
            ),
        ];
        let save = function(
            "__inference__traced_save_9",
            &["file_prefix", "savev2_const"],
            &[
                node(
                    "StaticRegexFullMatch",
                    "StaticRegexFullMatch",
                    &["file_prefix"],
                    &[attr_s("pattern", "^s3://.*")],
                ),
                node("Const", "Const", &[], &[attr_const(".part")]),
                node("Const_1", "Const", &[], &[attr_const("_temp/part")]),
                node(
                    "Select",
                    "Select",
                    &[
                        "StaticRegexFullMatch:output:0",
                        "Const:output:0",
                        "Const_1:output:0",
                    ],
                    &[],
                ),
                node(
                    "StringJoin",
                    "StringJoin",
                    &["file_prefix", "Select:output:0"],
                    &[],
                ),
                node("num_shards", "Const", &[], &[]),
                node(
                    "ShardedFilename",
                    "ShardedFilename",
                    &[
                        "StringJoin:output:0",
                        "ShardedFilename/shard:output:0",
                        "num_shards:output:0",
                    ],
                    &[],
                ),
                node(
                    "SaveV2",
                    "SaveV2",
                    &[
                        "ShardedFilename:filename:0",
                        "SaveV2/tensor_names:output:0",
                        "SaveV2/shape_and_slices:output:0",
                        "savev2_const",
                    ],
                    &[],
                ),
                node(
                    "MergeV2Checkpoints/checkpoint_prefixes",
                    "Pack",
                    &["ShardedFilename:filename:0", "^SaveV2"],
                    &[],
                ),
                node(
                    "MergeV2Checkpoints",
                    "MergeV2Checkpoints",
                    &[
                        "MergeV2Checkpoints/checkpoint_prefixes:output:0",
                        "file_prefix",
                    ],
                    &[],
                ),
                node(
                    "Identity",
                    "Identity",
                    &["file_prefix", "^MergeV2Checkpoints"],
                    &[],
                ),
            ],
        );
        let restore = function(
            "__inference__traced_restore_10",
            &["file_prefix"],
            &[
                node(
                    "RestoreV2/tensor_names",
                    "Const",
                    &[],
                    &[attr_const("x/.ATTRIBUTES/VARIABLE_VALUE")],
                ),
                node(
                    "RestoreV2",
                    "RestoreV2",
                    &[
                        "file_prefix",
                        "RestoreV2/tensor_names:output:0",
                        "RestoreV2/shape_and_slices:output:0",
                    ],
                    &[],
                ),
                node("Identity", "Identity", &["RestoreV2:tensors:0"], &[]),
            ],
        );
        (nodes, vec![save, restore])
    }

    #[test]
    fn corpus() {
        for (m, want) in [
            (
                "malicious/m57_savedmodel_readfile_in_function/saved_model.pb",
                "ReadFile",
            ),
            (
                "malicious/m58_savedmodel_printv2_file_write/saved_model.pb",
                "PrintV2",
            ),
        ] {
            let b = corpus_file(m);
            assert!(looks_like(&b), "{m}");
            let r = scan_bytes(&b);
            assert_eq!(r.verdict(), Verdict::Unsafe, "{m}: {r:?}");
            assert!(
                r.findings
                    .iter()
                    .any(|f| f.rule == "tf.dangerous_op" && f.message.contains(want)),
                "{m}: {r:?}"
            );
        }
        let b = corpus_file("benign/b37_savedmodel_matmul/saved_model.pb");
        assert!(looks_like(&b));
        let r = scan_bytes(&b);
        assert_eq!(r.verdict(), Verdict::Safe, "{r:?}");
        assert!(r.findings.is_empty(), "{r:?}");
    }

    #[test]
    fn tf2_saver_is_accepted() {
        let (mut nodes, funcs) = tf2_saver();
        nodes.push(node("x", "Placeholder", &[], &[]));
        nodes.push(node("y", "Relu", &["x"], &[]));
        let b = saved_model(
            &nodes,
            &funcs,
            Some((
                "saver_filename:0",
                "StatefulPartitionedCall_1:0",
                "StatefulPartitionedCall_2",
            )),
            &["y:0"],
        );
        assert!(looks_like(&b));
        let r = scan_bytes(&b);
        assert_eq!(r.verdict(), Verdict::Safe, "{r:?}");
        assert!(r.findings.is_empty(), "{r:?}");

        // Without saver_def the same ops are not vouched for.
        let r = scan_bytes(&saved_model(&nodes, &funcs, None, &["y:0"]));
        assert_eq!(r.verdict(), Verdict::Unsafe, "{r:?}");
    }

    #[test]
    fn tf1_saver_is_accepted() {
        let nodes = vec![
            node("v", "VariableV2", &[], &[]),
            node("save/filename/input", "Const", &[], &[attr_const("model")]),
            node(
                "save/filename",
                "PlaceholderWithDefault",
                &["save/filename/input"],
                &[],
            ),
            node(
                "save/Const",
                "PlaceholderWithDefault",
                &["save/filename"],
                &[],
            ),
            node(
                "save/SaveV2",
                "SaveV2",
                &[
                    "save/Const",
                    "save/SaveV2/tensor_names",
                    "save/SaveV2/shape_and_slices",
                    "v",
                ],
                &[],
            ),
            node(
                "save/control_dependency",
                "Identity",
                &["save/Const", "^save/SaveV2"],
                &[],
            ),
            node(
                "save/RestoreV2",
                "RestoreV2",
                &[
                    "save/Const",
                    "save/RestoreV2/tensor_names",
                    "save/RestoreV2/shape_and_slices",
                ],
                &[],
            ),
            node("save/Assign", "Assign", &["v", "save/RestoreV2"], &[]),
            node("save/restore_all", "NoOp", &["^save/Assign"], &[]),
            node("out", "Identity", &["v"], &[]),
        ];
        let b = saved_model(
            &nodes,
            &[],
            Some((
                "save/Const:0",
                "save/control_dependency:0",
                "save/restore_all",
            )),
            &["out:0"],
        );
        let r = scan_bytes(&b);
        assert_eq!(r.verdict(), Verdict::Safe, "{r:?}");
        // The serving signature reaching the saver makes it suspect.
        let b = saved_model(
            &nodes,
            &[],
            Some((
                "save/Const:0",
                "save/control_dependency:0",
                "save/restore_all",
            )),
            &["save/control_dependency:0"],
        );
        assert_eq!(scan_bytes(&b).verdict(), Verdict::Unsafe);
    }

    #[test]
    fn abused_checkpoint_ops_are_flagged() {
        let saver = Some((
            "saver_filename:0",
            "StatefulPartitionedCall_1:0",
            "StatefulPartitionedCall_2",
        ));
        // 1. A SaveV2 with a constant absolute path inside the saver's function.
        let (nodes, mut funcs) = tf2_saver();
        funcs[1] = function(
            "__inference__traced_restore_10",
            &["file_prefix"],
            &[
                node("p", "Const", &[], &[attr_const("/root/.bashrc")]),
                node("RestoreV2", "RestoreV2", &["p:output:0", "n", "s"], &[]),
            ],
        );
        let r = scan_bytes(&saved_model(&nodes, &funcs, saver, &[]));
        assert_eq!(r.verdict(), Verdict::Unsafe, "{r:?}");

        // 2. A traversal suffix joined to the saver's prefix.
        let (nodes, mut funcs) = tf2_saver();
        funcs[1] = function(
            "__inference__traced_restore_10",
            &["file_prefix"],
            &[
                node("c", "Const", &[], &[attr_const("/../../../etc/x")]),
                node("j", "StringJoin", &["file_prefix", "c:output:0"], &[]),
                node("RestoreV2", "RestoreV2", &["j:output:0", "n", "s"], &[]),
            ],
        );
        let r = scan_bytes(&saved_model(&nodes, &funcs, saver, &[]));
        assert_eq!(r.verdict(), Verdict::Unsafe, "{r:?}");

        // 3. The serving signature calls the save function with its own input.
        let (mut nodes, funcs) = tf2_saver();
        nodes.push(node("x", "Placeholder", &[], &[]));
        nodes.push(node(
            "StatefulPartitionedCall",
            "StatefulPartitionedCall",
            &["x", "Const"],
            &[attr_f("f", "__inference__traced_save_9")],
        ));
        let r = scan_bytes(&saved_model(
            &nodes,
            &funcs,
            saver,
            &["StatefulPartitionedCall:0"],
        ));
        assert_eq!(r.verdict(), Verdict::Unsafe, "{r:?}");

        // 4. A SaveV2 in an uncalled library function.
        let (nodes, mut funcs) = tf2_saver();
        funcs.push(function(
            "__inference_evil_1",
            &["p"],
            &[node("SaveV2", "SaveV2", &["p", "n", "s"], &[])],
        ));
        let r = scan_bytes(&saved_model(&nodes, &funcs, saver, &[]));
        assert_eq!(r.verdict(), Verdict::Unsafe, "{r:?}");
    }

    #[test]
    fn dangerous_ops_anywhere() {
        for (op, attrs) in [
            ("WriteFile", vec![]),
            ("MatchingFiles", vec![]),
            ("PyFunc", vec![]),
            ("EagerPyFunc", vec![]),
            ("ImmutableConst", vec![]),
            ("DebugIdentityV2", vec![]),
            ("PrintV2", vec![attr_s("output_stream", "file:///tmp/x")]),
            (
                "DecodeProtoV2",
                vec![attr_s("descriptor_source", "/tmp/desc.pb")],
            ),
        ] {
            // Nested: a function called through a While body's attribute of a function.
            let inner = function("inner", &["a"], &[node("n", op, &["a"], &attrs)]);
            let outer = function(
                "outer",
                &["a"],
                &[node("w", "While", &["a"], &[attr_f("body", "inner")])],
            );
            let b = saved_model(
                &[node("c", "PartitionedCall", &[], &[attr_f("f", "outer")])],
                &[outer, inner],
                None,
                &["c:0"],
            );
            let r = scan_bytes(&b);
            assert_eq!(r.verdict(), Verdict::Unsafe, "{op}: {r:?}");
        }
        for (op, attrs) in [
            ("PrintV2", vec![attr_s("output_stream", "stderr")]),
            (
                "DecodeProtoV2",
                vec![attr_s("descriptor_source", "local://")],
            ),
        ] {
            let b = saved_model(&[node("n", op, &[], &attrs)], &[], None, &[]);
            let r = scan_bytes(&b);
            assert_eq!(r.verdict(), Verdict::Safe, "{op}: {r:?}");
        }
        let r = scan_bytes(&saved_model(
            &[node("n", "MyCustomOp", &[], &[])],
            &[],
            None,
            &[],
        ));
        assert_eq!(r.max_severity(), Some(Severity::Medium));
    }

    #[test]
    fn graphdef_and_keras_metadata() {
        let g = [
            fl(1, &node("f", "Const", &[], &[attr_const("/etc/passwd")])),
            fl(1, &node("r", "ReadFile", &["f"], &[])),
        ]
        .concat();
        assert!(looks_like(&g));
        assert_eq!(scan_bytes(&g).verdict(), Verdict::Unsafe);

        let md = r#"{"name": "lambda", "class_name": "Lambda", "config": {"name": "lambda", "function": ["4wEAAA", null, null], "function_type": "lambda", "module": "__main__"}}"#;
        let obj = [
            fv(2, 1),
            fl(3, b"root.layer-0"),
            fl(4, b"_tf_keras_layer"),
            fl(5, md.as_bytes()),
        ]
        .concat();
        let km = fl(1, &obj);
        assert!(looks_like(&km));
        let r = scan_bytes(&km);
        assert_eq!(r.verdict(), Verdict::Unsafe, "{r:?}");

        // Keras metadata inside a SavedModel's object graph.
        let user = [fl(1, b"_tf_keras_layer"), fl(3, md.as_bytes())].concat();
        let og = fl(1, &fl(4, &user));
        let mg = [fl(1, &fl(4, b"serve")), fl(7, &og)].concat();
        let b = [fv(1, 1), fl(2, &mg)].concat();
        assert_eq!(scan_bytes(&b).verdict(), Verdict::Unsafe);
    }

    #[test]
    fn malformed_never_panics() {
        assert!(!looks_like(b""));
        assert!(!looks_like(b"hello world, not a protobuf"));
        let (nodes, funcs) = tf2_saver();
        let b = saved_model(
            &nodes,
            &funcs,
            Some((
                "saver_filename:0",
                "StatefulPartitionedCall_1:0",
                "StatefulPartitionedCall_2",
            )),
            &[],
        );
        for len in 0..b.len() {
            let _ = scan_bytes(&b[..len]);
        }
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..2000 {
            let mut d = b.clone();
            for _ in 0..4 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x as usize) % d.len();
                d[i] = (x >> 32) as u8;
            }
            let _ = scan_bytes(&d);
        }
        // Deeply nested function attributes.
        // NameAttrList { name, attr { key, value: AttrValue { func: NameAttrList { ... } } } }
        let mut v = fl(1, b"f");
        for _ in 0..500 {
            let attr_value = fl(10, &v);
            let entry = [fl(1, b"k"), fl(2, &attr_value)].concat();
            v = [fl(1, b"g"), fl(2, &entry)].concat();
        }
        let n = node(
            "n",
            "If",
            &[],
            &[fl(5, &[fl(1, b"then_branch"), fl(2, &fl(10, &v))].concat())],
        );
        let r = scan_bytes(&saved_model(&[n], &[], None, &[]));
        assert_eq!(r.verdict(), Verdict::Incomplete, "{r:?}");
    }
}
