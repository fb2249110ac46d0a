//! A symbolic pickle machine: it runs every opcode of every protocol on a real stack, memo and
//! frame model, building values instead of objects, and records every global the stream would
//! import and how each is used. Nothing is imported or called.
//!
//! It follows CPython's C unpickler where scanners usually diverge: any opcode at any protocol,
//! `MEMOIZE` storing at `len(memo)`, `STACK_GLOBAL` operands taken from any earlier string,
//! dotted names resolved attribute by attribute at protocol 4+, py2 names renamed below protocol 3.
//! Frames are checked strictly: an opcode or argument that crosses a frame's end is reported
//! (CPython's buffer would re-read past it, executing bytes other tools treat as data).

use std::collections::HashMap;

use crate::policy::{self, Profile};
use crate::report::{Report, Severity};

/// Limits that keep a hostile stream from exhausting memory or time.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Opcodes per pickle.
    pub opcodes: u64,
    /// Values alive at once (stack plus containers).
    pub values: usize,
    /// Memo entries.
    pub memo: usize,
    /// Nesting of pickles inside pickles, archives and compressed streams.
    pub depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            opcodes: 200_000_000,
            values: 50_000_000,
            memo: 10_000_000,
            depth: 8,
        }
    }
}

/// A value on the stack. Containers are kept by index into the value arena so that mutations
/// (APPEND, SETITEM, BUILD) are seen through every reference, as in CPython.
#[derive(Debug, Clone)]
enum Val {
    None,
    Int(i64),
    BigInt,
    Float,
    Bool,
    Str(String),
    Bytes(usize, usize),
    Tuple(Vec<usize>),
    List(Vec<usize>),
    Dict(Vec<(usize, usize)>),
    Set,
    Global(usize),
    Call { callee: usize, args: usize },
    PersId,
    Opaque,
}

/// How a global was used.
#[derive(Debug, Clone)]
struct GlobalUse {
    name: String,
    offset: usize,
    called: bool,
    built: bool,
    /// The typed rule was satisfied at every call.
    typed_ok: bool,
    typed_calls: u32,
}

/// The result of one pickle.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Bytes consumed (through STOP), when the pickle ended properly.
    pub end: Option<usize>,
    /// The stream can be loaded by `torch.load(weights_only=True)`.
    pub weights_only_loadable: bool,
    /// Persistent ids seen: `(storage type global, key)` pairs of torch storages.
    pub storages: Vec<(String, String)>,
    /// The top-level value is a list of strings (torch legacy's key list).
    pub string_list: Option<Vec<String>>,
    /// The whole pickle is one integer (torch legacy's magic number and protocol records).
    pub single_int: Option<i64>,
    /// The whole pickle is the 80-bit legacy magic number.
    pub is_legacy_magic: bool,
}

/// Where nested payloads found in the stream go to be scanned.
pub type NestedScan<'a> = dyn FnMut(&[u8], &str, &mut Report) + 'a;

struct Vm<'a> {
    data: &'a [u8],
    pos: usize,
    loc: &'a str,
    vals: Vec<Val>,
    stack: Vec<usize>,
    marks: Vec<usize>,
    memo: HashMap<u64, usize>,
    memoize_count: u64,
    saw_put: bool,
    saw_memoize: bool,
    last_put: Option<u64>,
    frame_end: Option<usize>,
    protocol: u8,
    globals: Vec<GlobalUse>,
    profile: Profile,
    limits: Limits,
    wo: bool,
    storages: Vec<(String, String)>,
    joblib: bool,
}

const WO_OPS: &[u8] = b"c\x81RbaesuM(t\x85\x86\x87N\x89\x88)]}\x8fJKMG X\x80.Q\x8ahjqr\x8a";

fn op_name(op: u8) -> String {
    if op.is_ascii_graphic() {
        format!("'{}'", op as char)
    } else {
        format!("0x{op:02x}")
    }
}

impl<'a> Vm<'a> {
    fn push(&mut self, v: Val) -> Result<usize, String> {
        if self.vals.len() >= self.limits.values {
            return Err(format!("more than {} values", self.limits.values));
        }
        self.vals.push(v);
        let id = self.vals.len() - 1;
        self.stack.push(id);
        Ok(id)
    }

    fn new_val(&mut self, v: Val) -> Result<usize, String> {
        if self.vals.len() >= self.limits.values {
            return Err(format!("more than {} values", self.limits.values));
        }
        self.vals.push(v);
        Ok(self.vals.len() - 1)
    }

    fn pop(&mut self) -> Result<usize, String> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err("stack underflow".into());
        }
        Ok(self.stack.pop().expect("checked"))
    }

    fn top(&self) -> Result<usize, String> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err("stack underflow".into());
        }
        Ok(*self.stack.last().expect("checked"))
    }

    fn pop_mark(&mut self) -> Result<Vec<usize>, String> {
        let m = self.marks.pop().ok_or("no MARK on the stack")?;
        Ok(self.stack.split_off(m))
    }

    /// Take `n` argument bytes, checking the frame.
    fn take(&mut self, n: usize, r: &mut Report) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or("truncated pickle")?;
        if let Some(fe) = self.frame_end
            && end > fe
        {
            r.add(
                "pickle.frame_divergence",
                Severity::Critical,
                &format!("{}@{}", self.loc, self.pos),
                format!("an argument runs past the end of its frame (frame ends at {fe}, argument at {}..{end}): CPython re-reads past the frame and executes bytes other tools skip", self.pos),
            );
            self.frame_end = None;
        }
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn line(&mut self, r: &mut Report) -> Result<String, String> {
        let rest = &self.data[self.pos..];
        let nl = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("truncated line")?;
        let raw = self.take(nl + 1, r)?;
        let mut s = &raw[..nl];
        if s.last() == Some(&b'\r') {
            s = &s[..s.len() - 1];
        }
        Ok(String::from_utf8_lossy(s).into_owned())
    }

    fn uint(&mut self, n: usize, r: &mut Report) -> Result<u64, String> {
        let b = self.take(n, r)?;
        let mut v = 0u64;
        for (i, x) in b.iter().enumerate() {
            v |= (*x as u64) << (8 * i);
        }
        Ok(v)
    }

    fn global(
        &mut self,
        module: &str,
        name: &str,
        offset: usize,
        r: &mut Report,
    ) -> Result<usize, String> {
        let (m, n) = policy::normalize(module, name, self.protocol);
        let full = format!("{m}.{n}");
        let loc = format!("{}@{offset}", self.loc);
        if m.is_empty() || n.is_empty() || full.contains(['\n', '\0', ' ']) {
            r.add(
                "pickle.global.malformed",
                Severity::High,
                &loc,
                format!("malformed global name {full:?}"),
            );
        }
        if m.split('.')
            .chain(n.split('.'))
            .any(|c| c.starts_with("__") && c != "__builtin__")
        {
            r.add(
                "pickle.global.dunder",
                Severity::Critical,
                &loc,
                format!("global {full} walks a dunder attribute"),
            );
        }
        if !policy::weights_only(&full) {
            self.wo = false;
        }
        self.globals.push(GlobalUse {
            name: full,
            offset,
            called: false,
            built: false,
            typed_ok: true,
            typed_calls: 0,
        });
        let g = self.globals.len() - 1;
        self.push(Val::Global(g))
    }

    fn str_of(&self, id: usize) -> Option<&str> {
        match &self.vals[id] {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    fn global_of(&self, id: usize) -> Option<usize> {
        match &self.vals[id] {
            Val::Global(g) => Some(*g),
            _ => None,
        }
    }

    fn is_literal(&self, id: usize) -> bool {
        match &self.vals[id] {
            Val::None
            | Val::Int(_)
            | Val::BigInt
            | Val::Float
            | Val::Bool
            | Val::Str(_)
            | Val::Bytes(..) => true,
            Val::Tuple(items) => items.iter().all(|&i| self.is_literal(i)),
            _ => false,
        }
    }

    /// Whether the value is an allowed global (for typed rules).
    fn allowed_global(&self, id: usize) -> bool {
        self.global_of(id)
            .is_some_and(|g| policy::allowed(&self.globals[g].name, self.profile))
    }

    fn args_of(&self, id: usize) -> Vec<usize> {
        match &self.vals[id] {
            Val::Tuple(items) => items.clone(),
            _ => Vec::new(),
        }
    }

    /// Record a call of `callee` with `args` (a value id), checking typed rules and flagging
    /// higher-order calls. Returns the id of the result.
    fn call(
        &mut self,
        callee: usize,
        args: usize,
        offset: usize,
        r: &mut Report,
        nested: &mut NestedScan<'_>,
        depth: u32,
    ) -> Result<usize, String> {
        let loc = format!("{}@{offset}", self.loc);
        match self.vals[callee].clone() {
            Val::Global(g) => {
                self.globals[g].called = true;
                let name = self.globals[g].name.clone();
                if policy::typed(&name).is_some() {
                    let a = self.args_of(args);
                    let ok = match name.as_str() {
                        "functools.partial" => a.first().is_some_and(|&f| self.allowed_global(f)),
                        "copyreg._reconstructor" => {
                            a.len() == 3
                                && self.allowed_global(a[0])
                                && self
                                    .global_of(a[1])
                                    .is_some_and(|b| self.globals[b].name == "builtins.object")
                        }
                        "copyreg.__newobj__" => a.first().is_some_and(|&f| self.allowed_global(f)),
                        "logging.getLogger" | "re._compile" => {
                            a.iter().all(|&x| self.is_literal(x))
                        }
                        _ => false,
                    };
                    self.globals[g].typed_calls += 1;
                    if !ok {
                        self.globals[g].typed_ok = false;
                    }
                }
                if name == "collections.defaultdict" {
                    let a = self.args_of(args);
                    if let Some(&f) = a.first()
                        && !matches!(self.vals[f], Val::None)
                        && !self.allowed_global(f)
                    {
                        r.add(
                            "pickle.defaultdict_factory",
                            Severity::High,
                            &loc,
                            "collections.defaultdict with a factory that is not allowed"
                                .to_string(),
                        );
                    }
                }
            }
            Val::Call { .. } => {
                r.add(
                    "pickle.higher_order_call",
                    Severity::High,
                    &loc,
                    "the result of a call is called again (a callable built at load time)",
                );
            }
            _ => {
                r.add(
                    "pickle.call_on_value",
                    Severity::Medium,
                    &loc,
                    "a call on a value that is not a global",
                );
            }
        }
        // Strings and bytes handed to a call may be payloads themselves (a pickle passed to loads).
        if depth < self.limits.depth {
            for a in self.args_of(args) {
                let bytes = match &self.vals[a] {
                    Val::Bytes(s, e) if e - s >= 8 => Some(self.data[*s..*e].to_vec()),
                    Val::Str(s) if s.len() >= 8 => Some(s.as_bytes().to_vec()),
                    _ => None,
                };
                if let Some(b) = bytes {
                    nested(&b, &format!("{loc}!arg"), r);
                }
            }
        }
        self.new_val(Val::Call { callee, args })
    }

    fn build(
        &mut self,
        target: usize,
        state: usize,
        offset: usize,
        r: &mut Report,
    ) -> Result<(), String> {
        let loc = format!("{}@{offset}", self.loc);
        match self.vals[target].clone() {
            Val::Global(g) => {
                self.globals[g].built = true;
                r.add(
                    "pickle.build_on_global",
                    Severity::Critical,
                    &loc,
                    format!("BUILD sets attributes on {} itself (a module-level object), not on an instance", self.globals[g].name),
                );
            }
            Val::Call { callee, .. } => {
                if let Some(g) = self.global_of(callee) {
                    self.globals[g].built = true;
                    if self.joblib && self.globals[g].name.starts_with("joblib.numpy_pickle") {
                        return self.joblib_array(state, offset, r);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// joblib writes a NumpyArrayWrapper's array right after its BUILD: skip it (or scan it, for
    /// object arrays) exactly as `NumpyArrayWrapper.read_array` reads it.
    fn joblib_array(&mut self, state: usize, offset: usize, r: &mut Report) -> Result<(), String> {
        let Val::Dict(items) = self.vals[state].clone() else {
            return Ok(());
        };
        let mut shape: Option<Vec<u64>> = None;
        let mut itemsize: Option<u64> = None;
        let mut object = false;
        let mut aligned = false;
        for (k, v) in items {
            match self.str_of(k) {
                Some("shape") => {
                    shape = match &self.vals[v] {
                        Val::Tuple(t) => t
                            .iter()
                            .map(|&x| match self.vals[x] {
                                Val::Int(i) if i >= 0 => Some(i as u64),
                                _ => None,
                            })
                            .collect(),
                        _ => None,
                    }
                }
                Some("dtype") => {
                    if let Val::Call { args, .. } = self.vals[v].clone()
                        && let Some(&code) = self.args_of(args).first()
                        && let Some(s) = self.str_of(code)
                    {
                        object = s.trim_start_matches(['<', '>', '|', '=']).starts_with('O');
                        itemsize = numpy_itemsize(s);
                    }
                }
                Some("numpy_array_alignment_bytes") => aligned = !matches!(self.vals[v], Val::None),
                _ => {}
            }
        }
        let loc = format!("{}@{offset}", self.loc);
        // joblib ends the frame before writing the array straight to the file.
        if self.frame_end == Some(self.pos) {
            self.frame_end = None;
        }
        if aligned {
            let pad = self.take(1, r)?[0] as usize;
            self.take(pad, r)?;
        }
        if object {
            // The array is a pickle of its own, inline.
            return Err(format!("JOBLIB_OBJECT_ARRAY {}", self.pos));
        }
        let (Some(shape), Some(itemsize)) = (shape, itemsize) else {
            r.incomplete(&loc, "joblib array whose shape or dtype could not be read");
            return Err("unreadable joblib array".into());
        };
        let n = shape
            .iter()
            .try_fold(itemsize, |a, &d| a.checked_mul(d))
            .ok_or("joblib array size overflows")?;
        let n = usize::try_from(n).map_err(|_| "joblib array too large")?;
        self.take(n, r)?;
        Ok(())
    }
}

/// Item size of a numpy dtype code (`<f8`, `i4`, `float32`, ...).
fn numpy_itemsize(code: &str) -> Option<u64> {
    let c = code.trim_start_matches(['<', '>', '|', '=']);
    let named = match c {
        "float64" | "int64" | "uint64" | "complex64" => Some(8),
        "float32" | "int32" | "uint32" => Some(4),
        "float16" | "int16" | "uint16" => Some(2),
        "int8" | "uint8" | "bool" => Some(1),
        "complex128" => Some(16),
        _ => None,
    };
    if named.is_some() {
        return named;
    }
    let kind = c.chars().next()?;
    let size: u64 = c[1..].parse().ok()?;
    match kind {
        'f' | 'i' | 'u' | 'c' | 'b' | 'S' | 'V' => Some(size),
        'U' => size.checked_mul(4),
        '?' => Some(1),
        _ => None,
    }
}

/// Run one pickle starting at `start`. Findings go to `r`; nested payloads to `nested`.
#[allow(clippy::too_many_arguments)]
pub fn run(
    data: &[u8],
    start: usize,
    loc: &str,
    profile: Profile,
    limits: Limits,
    joblib: bool,
    depth: u32,
    r: &mut Report,
    nested: &mut NestedScan<'_>,
) -> Outcome {
    let mut vm = Vm {
        data,
        pos: start,
        loc,
        vals: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        memoize_count: 0,
        saw_put: false,
        saw_memoize: false,
        last_put: None,
        frame_end: None,
        protocol: 0,
        globals: Vec::new(),
        profile,
        limits,
        wo: true,
        storages: Vec::new(),
        joblib,
    };
    let mut out = Outcome::default();
    let mut ops = 0u64;
    let result = loop {
        if vm.pos >= data.len() {
            break Err("the pickle ends without STOP".to_string());
        }
        if let Some(fe) = vm.frame_end
            && vm.pos >= fe
        {
            vm.frame_end = None;
        }
        ops += 1;
        if ops > limits.opcodes {
            break Err(format!("more than {} opcodes", limits.opcodes));
        }
        let offset = vm.pos;
        let op = data[vm.pos];
        if let Err(e) = vm.take(1, r) {
            break Err(e);
        }
        if !WO_OPS.contains(&op) {
            vm.wo = false;
        }
        let step = step(&mut vm, op, offset, r, nested, depth);
        match step {
            Ok(true) => break Ok(()),
            Ok(false) => {}
            Err(e) if e.starts_with("JOBLIB_OBJECT_ARRAY ") => {
                // An object array inside a joblib stream: a whole pickle inline. Scan it, then go on.
                let at: usize = e[20..].parse().unwrap_or(vm.pos);
                let inner_loc = format!("{loc}@{at}!joblib-object-array");
                let inner = run(
                    data,
                    at,
                    &inner_loc,
                    profile,
                    limits,
                    true,
                    depth + 1,
                    r,
                    nested,
                );
                match inner.end {
                    Some(end) => vm.pos = end,
                    None => break Err("unreadable joblib object array".into()),
                }
            }
            Err(e) => break Err(e),
        }
    };
    if vm.saw_put && vm.saw_memoize {
        r.add(
            "pickle.memo_anomaly",
            Severity::Critical,
            loc,
            "PUT and MEMOIZE are mixed: no Python pickler writes that",
        );
    }
    // Judge every global by how it was used.
    for g in &vm.globals {
        let l = format!("{loc}@{}", g.offset);
        let name = &g.name;
        let allowed = policy::allowed(name, profile)
            || (profile == Profile::Compat
                && policy::typed(name).is_some()
                && g.typed_ok
                && (g.typed_calls > 0 || !g.called));
        if policy::denied(name) && !allowed {
            let how = if g.called { "called" } else { "referenced" };
            r.add(
                "pickle.global.denylisted",
                Severity::Critical,
                &l,
                format!("{how} {name}, which runs code or touches the system"),
            );
        } else if !allowed {
            if g.called || g.built {
                r.add(
                    "pickle.global.not_allowed",
                    Severity::High,
                    &l,
                    format!("calls {name}, which is not on the allowlist"),
                );
            } else {
                r.add(
                    "pickle.global.referenced",
                    Severity::Medium,
                    &l,
                    format!("references {name}, which is not on the allowlist"),
                );
            }
        } else if !policy::weights_only(name) {
            let why = policy::compat(name).or(policy::typed(name)).unwrap_or("");
            r.add(
                "pickle.global.compat",
                Severity::Info,
                &l,
                format!("{name} ({why}) is outside torch's weights-only allowlist"),
            );
        }
    }
    match result {
        Ok(()) => {
            out.end = Some(vm.pos);
            if let Some(&top) = vm.stack.last() {
                match &vm.vals[top] {
                    Val::List(items) => {
                        let strs: Option<Vec<String>> = items
                            .iter()
                            .map(|&i| vm.str_of(i).map(str::to_string))
                            .collect();
                        out.string_list = strs;
                    }
                    Val::Int(i) => out.single_int = Some(*i),
                    _ => {}
                }
            }
            out.is_legacy_magic = data[start..vm.pos] == LEGACY_MAGIC_PICKLE_P2[..]
                || data[start..vm.pos] == *b"\x80\x02\x8a\x0alp\xfc\x9cF\xf9 j\xa8P\x19.";
        }
        Err(e) => r.incomplete(&format!("{loc}@{}", vm.pos), format!("pickle: {e}")),
    }
    out.weights_only_loadable = vm.wo && out.end.is_some();
    out.storages = vm.storages;
    out
}

/// torch's legacy magic number `0x1950a86a20f9469cfc6c` as `pickle.dump` writes it (protocol 2).
const LEGACY_MAGIC_PICKLE_P2: [u8; 16] = *b"\x80\x02\x8a\x0alp\xfc\x9cF\xf9 j\xa8P\x19.";

/// Execute one opcode. `Ok(true)` at STOP.
fn step(
    vm: &mut Vm<'_>,
    op: u8,
    offset: usize,
    r: &mut Report,
    nested: &mut NestedScan<'_>,
    depth: u32,
) -> Result<bool, String> {
    match op {
        b'.' => return Ok(true),
        0x80 => {
            vm.protocol = vm.take(1, r)?[0];
        }
        0x95 => {
            // FRAME
            let n = vm.uint(8, r)? as usize;
            if let Some(fe) = vm.frame_end
                && vm.pos < fe
            {
                r.add(
                    "pickle.frame_divergence",
                    Severity::Critical,
                    &format!("{}@{offset}", vm.loc),
                    "a FRAME starts inside another frame",
                );
            }
            let end = vm.pos.checked_add(n).ok_or("frame length overflows")?;
            if end > vm.data.len() {
                return Err("frame runs past the end of the data".into());
            }
            vm.frame_end = Some(end);
        }
        b'(' => {
            if vm.marks.len() > 100_000 {
                return Err("too many MARKs".into());
            }
            vm.marks.push(vm.stack.len());
        }
        b'0' => {
            vm.pop()?;
        }
        b'1' => {
            vm.pop_mark()?;
        }
        b'2' => {
            let t = vm.top()?;
            vm.stack.push(t);
        }
        b'N' => {
            vm.push(Val::None)?;
        }
        0x88 | 0x89 => {
            vm.push(Val::Bool)?;
        }
        b'I' => {
            let l = vm.line(r)?;
            let v = match l.as_str() {
                "00" | "01" => Val::Bool,
                s => s.trim().parse::<i64>().map(Val::Int).unwrap_or(Val::BigInt),
            };
            vm.push(v)?;
        }
        b'J' => {
            let v = vm.uint(4, r)? as u32 as i32 as i64;
            vm.push(Val::Int(v))?;
        }
        b'K' => {
            let v = vm.uint(1, r)? as i64;
            vm.push(Val::Int(v))?;
        }
        b'M' => {
            let v = vm.uint(2, r)? as i64;
            vm.push(Val::Int(v))?;
        }
        b'L' => {
            let l = vm.line(r)?;
            let v = l
                .trim_end_matches('L')
                .parse::<i64>()
                .map(Val::Int)
                .unwrap_or(Val::BigInt);
            vm.push(v)?;
        }
        0x8a => {
            let n = vm.uint(1, r)? as usize;
            let b = vm.take(n, r)?;
            let v = if n <= 8 {
                let mut x: i64 = 0;
                for (i, byte) in b.iter().enumerate() {
                    x |= (*byte as i64) << (8 * i);
                }
                if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                    x -= 1i64 << (8 * n);
                }
                Val::Int(x)
            } else {
                Val::BigInt
            };
            vm.push(v)?;
        }
        0x8b => {
            let n = vm.uint(4, r)? as usize;
            vm.take(n, r)?;
            vm.push(Val::BigInt)?;
        }
        b'F' => {
            vm.line(r)?;
            vm.push(Val::Float)?;
        }
        b'G' => {
            vm.take(8, r)?;
            vm.push(Val::Float)?;
        }
        b'S' => {
            let l = vm.line(r)?;
            let s = l.trim();
            let inner = if s.len() >= 2
                && (s.starts_with('\'') && s.ends_with('\'')
                    || s.starts_with('"') && s.ends_with('"'))
            {
                &s[1..s.len() - 1]
            } else {
                return Err("STRING argument is not quoted".into());
            };
            vm.push(Val::Str(inner.to_string()))?;
        }
        b'V' => {
            let l = vm.line(r)?;
            vm.push(Val::Str(l))?;
        }
        b'T' | b'X' | 0x8d | b'B' | 0x8e | 0x96 | b'U' | 0x8c | b'C' => {
            let n = match op {
                b'U' | 0x8c | b'C' => vm.uint(1, r)? as usize,
                b'T' | b'X' | b'B' => vm.uint(4, r)? as usize,
                _ => usize::try_from(vm.uint(8, r)?).map_err(|_| "length overflows")?,
            };
            let start = vm.pos;
            let b = vm.take(n, r)?;
            let v = match op {
                b'T' | b'X' | 0x8d | b'U' | 0x8c => {
                    Val::Str(String::from_utf8_lossy(b).into_owned())
                }
                _ => Val::Bytes(start, start + n),
            };
            if matches!(op, b'B' | 0x8e | 0x96) && n >= 8 && depth < vm.limits.depth {
                nested(b, &format!("{}@{start}!bytes", vm.loc), r);
            }
            vm.push(v)?;
        }
        0x97 | 0x98 => {
            // NEXT_BUFFER / READONLY_BUFFER
            if op == 0x97 {
                vm.push(Val::Opaque)?;
            } else {
                vm.top()?;
            }
        }
        b')' => {
            vm.push(Val::Tuple(Vec::new()))?;
        }
        b't' => {
            let items = vm.pop_mark()?;
            vm.push(Val::Tuple(items))?;
        }
        0x85..=0x87 => {
            let n = (op - 0x84) as usize;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(vm.pop()?);
            }
            items.reverse();
            vm.push(Val::Tuple(items))?;
        }
        b']' => {
            vm.push(Val::List(Vec::new()))?;
        }
        b'l' => {
            let items = vm.pop_mark()?;
            vm.push(Val::List(items))?;
        }
        b'}' => {
            vm.push(Val::Dict(Vec::new()))?;
        }
        b'd' => {
            let items = vm.pop_mark()?;
            if items.len() % 2 != 0 {
                return Err("DICT with an odd number of items".into());
            }
            let pairs = items.chunks(2).map(|c| (c[0], c[1])).collect();
            vm.push(Val::Dict(pairs))?;
        }
        0x8f => {
            vm.push(Val::Set)?;
        }
        0x91 => {
            vm.pop_mark()?;
            vm.push(Val::Set)?;
        }
        0x90 => {
            vm.pop_mark()?;
            let t = vm.top()?;
            if !matches!(vm.vals[t], Val::Set) {
                r.add(
                    "pickle.additems_on_non_set",
                    Severity::High,
                    &format!("{}@{offset}", vm.loc),
                    "ADDITEMS on a value that is not a set calls its add()",
                );
            }
        }
        b'a' | b'e' => {
            let items = if op == b'a' {
                vec![vm.pop()?]
            } else {
                vm.pop_mark()?
            };
            let t = vm.top()?;
            match &mut vm.vals[t] {
                Val::List(l) => l.extend(items),
                Val::Call { callee, .. } => {
                    // A list-like object built by an allowed class (deque, a list subclass) extends
                    // itself; anything else runs a method of an arbitrary object.
                    let callee = *callee;
                    vm.wo = false;
                    if !vm.allowed_global(callee) {
                        r.add("pickle.append_on_non_list", Severity::High, &format!("{}@{offset}", vm.loc), "APPEND/APPENDS on an object of a class that is not allowed calls its append()/extend()");
                    }
                }
                _ => {
                    r.add(
                        "pickle.append_on_non_list",
                        Severity::High,
                        &format!("{}@{offset}", vm.loc),
                        "APPEND/APPENDS on a value that is not a list calls its append()/extend()",
                    );
                    vm.wo = false;
                }
            }
        }
        b's' => {
            let v = vm.pop()?;
            let k = vm.pop()?;
            let t = vm.top()?;
            set_items(vm, t, vec![(k, v)], offset, r);
        }
        b'u' => {
            let items = vm.pop_mark()?;
            if items.len() % 2 != 0 {
                return Err("SETITEMS with an odd number of items".into());
            }
            let t = vm.top()?;
            set_items(
                vm,
                t,
                items.chunks(2).map(|c| (c[0], c[1])).collect(),
                offset,
                r,
            );
        }
        b'g' | b'h' | b'j' => {
            let idx = match op {
                b'g' => vm
                    .line(r)?
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| "bad GET index")?,
                b'h' => vm.uint(1, r)?,
                _ => vm.uint(4, r)?,
            };
            let v = *vm
                .memo
                .get(&idx)
                .ok_or_else(|| format!("memo value not found at index {idx}"))?;
            vm.stack.push(v);
        }
        b'p' | b'q' | b'r' => {
            let idx = match op {
                b'p' => vm
                    .line(r)?
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| "bad PUT index")?,
                b'q' => vm.uint(1, r)?,
                _ => vm.uint(4, r)?,
            };
            vm.saw_put = true;
            if vm.last_put.is_some_and(|l| idx <= l) {
                r.add(
                    "pickle.memo_anomaly",
                    Severity::Critical,
                    &format!("{}@{offset}", vm.loc),
                    format!("memo index {idx} written out of order: no Python pickler does that"),
                );
            }
            vm.last_put = Some(idx);
            let t = vm.top()?;
            if vm.memo.len() >= vm.limits.memo {
                return Err("memo too large".into());
            }
            vm.memo.insert(idx, t);
        }
        0x94 => {
            vm.saw_memoize = true;
            let t = vm.top()?;
            if vm.memo.len() >= vm.limits.memo {
                return Err("memo too large".into());
            }
            let idx = vm.memo.len() as u64;
            vm.memoize_count += 1;
            vm.memo.insert(idx, t);
        }
        b'c' | b'i' => {
            let module = vm.line(r)?;
            let name = vm.line(r)?;
            let g = vm.global(&module, &name, offset, r)?;
            if op == b'i' {
                // INST: instantiate with the arguments since the last MARK.
                vm.stack.pop();
                let items = vm.pop_mark()?;
                let args = vm.new_val(Val::Tuple(items))?;
                let res = vm.call(g, args, offset, r, nested, depth)?;
                vm.stack.push(res);
            }
        }
        0x93 => {
            let name = vm.pop()?;
            let module = vm.pop()?;
            match (
                vm.str_of(module).map(str::to_string),
                vm.str_of(name).map(str::to_string),
            ) {
                (Some(m), Some(n)) => {
                    vm.global(&m, &n, offset, r)?;
                }
                _ => {
                    r.add("pickle.dynamic_global", Severity::Critical, &format!("{}@{offset}", vm.loc), "STACK_GLOBAL with operands that are not strings (a global computed at load time)");
                    return Err("STACK_GLOBAL requires str".into());
                }
            }
        }
        b'o' => {
            let mut items = vm.pop_mark()?;
            if items.is_empty() {
                return Err("OBJ without a class".into());
            }
            let cls = items.remove(0);
            let args = vm.new_val(Val::Tuple(items))?;
            let res = vm.call(cls, args, offset, r, nested, depth)?;
            vm.stack.push(res);
        }
        b'R' | 0x81 => {
            let args = vm.pop()?;
            let callee = vm.pop()?;
            let res = vm.call(callee, args, offset, r, nested, depth)?;
            vm.stack.push(res);
        }
        0x92 => {
            let _kwargs = vm.pop()?;
            let args = vm.pop()?;
            let callee = vm.pop()?;
            let res = vm.call(callee, args, offset, r, nested, depth)?;
            vm.stack.push(res);
        }
        b'b' => {
            let state = vm.pop()?;
            let target = vm.top()?;
            vm.build(target, state, offset, r)?;
        }
        b'P' => {
            vm.line(r)?;
            vm.push(Val::PersId)?;
        }
        b'Q' => {
            let pid = vm.pop()?;
            if let Val::Tuple(items) = vm.vals[pid].clone() {
                if items.first().and_then(|&i| vm.str_of(i)) == Some("storage") && items.len() >= 3
                {
                    let ty = vm
                        .global_of(items[1])
                        .map(|g| vm.globals[g].name.clone())
                        .unwrap_or_default();
                    let key = vm.str_of(items[2]).unwrap_or("").to_string();
                    vm.storages.push((ty, key));
                } else if !items.is_empty() {
                    vm.wo = false;
                }
            }
            vm.push(Val::PersId)?;
        }
        0x82..=0x84 => {
            let n = match op {
                0x82 => 1,
                0x83 => 2,
                _ => 4,
            };
            let code = vm.uint(n, r)?;
            r.add(
                "pickle.extension_code",
                Severity::High,
                &format!("{}@{offset}", vm.loc),
                format!("EXT code {code} resolves a global through the copyreg extension registry"),
            );
            vm.push(Val::Opaque)?;
        }
        other => return Err(format!("unknown opcode {} at {offset}", op_name(other))),
    }
    Ok(false)
}

fn set_items(
    vm: &mut Vm<'_>,
    target: usize,
    pairs: Vec<(usize, usize)>,
    offset: usize,
    r: &mut Report,
) {
    match &mut vm.vals[target] {
        Val::Dict(items) => items.extend(pairs),
        Val::Call { callee, .. } => {
            // dict subclasses built by a call (OrderedDict, defaultdict, Counter) are fine.
            let callee = *callee;
            let ok = vm.global_of(callee).is_some_and(|g| {
                matches!(
                    vm.globals[g].name.as_str(),
                    "collections.OrderedDict"
                        | "collections.Counter"
                        | "collections.defaultdict"
                        | "builtins.dict"
                )
            });
            if !ok {
                r.add(
                    "pickle.setitem_on_non_dict",
                    Severity::Medium,
                    &format!("{}@{offset}", vm.loc),
                    "SETITEM on an object calls its __setitem__",
                );
            }
        }
        _ => {
            r.add(
                "pickle.setitem_on_non_dict",
                Severity::High,
                &format!("{}@{offset}", vm.loc),
                "SETITEM on a value that is not a dict calls its __setitem__",
            );
            vm.wo = false;
        }
    }
}

/// Whether `data` plausibly starts a pickle: a PROTO opcode, or a protocol 0/1 opcode stream that
/// disassembles to STOP within a bound.
pub fn looks_like(data: &[u8]) -> bool {
    match data.first() {
        Some(0x80) => data.get(1).is_some_and(|&p| p <= 5),
        Some(&b) if b"(}])cNIJKVSXUTGFl".contains(&b) => {
            // Walk a few opcodes of a protocol 0/1 stream without building anything.
            let mut r = Report::default();
            let mut nested = |_: &[u8], _: &str, _: &mut Report| {};
            let limits = Limits {
                opcodes: 100_000,
                values: 100_000,
                memo: 100_000,
                depth: 0,
            };
            let probe = &data[..data.len().min(1 << 20)];
            let out = run(
                probe,
                0,
                "",
                Profile::Compat,
                limits,
                false,
                0,
                &mut r,
                &mut nested,
            );
            out.end.is_some()
                || (r.incomplete.iter().all(|e| !e.contains("unknown opcode"))
                    && probe.len() == 1 << 20)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(data: &[u8]) -> (Report, Outcome) {
        let mut r = Report::default();
        let mut nested = |_: &[u8], _: &str, _: &mut Report| {};
        let out = run(
            data,
            0,
            "t",
            Profile::Compat,
            Limits::default(),
            false,
            0,
            &mut r,
            &mut nested,
        );
        (r, out)
    }

    #[test]
    fn classic_reduce_is_critical() {
        let (r, out) = scan(b"cposix\nsystem\n(S'id'\ntR.");
        assert_eq!(r.findings[0].rule, "pickle.global.denylisted");
        assert_eq!(r.findings[0].severity, Severity::Critical);
        assert!(out.end.is_some());
    }

    #[test]
    fn py2_names_are_renamed_below_protocol_3() {
        let (r, _) = scan(b"c__builtin__\nset\n(]tR.");
        assert!(
            r.findings.iter().all(|f| f.severity < Severity::Medium),
            "{:?}",
            r.findings
        );
    }

    #[test]
    fn stack_global_from_computed_value_is_dynamic() {
        // STACK_GLOBAL whose name operand is the result of a call.
        let (r, _) = scan(b"\x80\x04\x8c\x02os\x94c__builtin__\nstr\n)R\x93.");
        assert!(r.findings.iter().any(|f| f.rule == "pickle.dynamic_global"));
    }

    #[test]
    fn memoize_counts_like_cpython() {
        // MEMOIZE twice, then GET 1 must be the second value.
        let (r, out) = scan(b"\x80\x04K\x01\x94K\x02\x94h\x01.");
        assert!(r.incomplete.is_empty(), "{:?}", r.incomplete);
        assert_eq!(out.single_int, Some(2));
    }

    #[test]
    fn truncation_is_incomplete_and_keeps_findings() {
        let (r, _) = scan(b"cos\nsystem\n(S'x'\ntR\xff");
        assert!(!r.incomplete.is_empty());
        assert!(r.findings.iter().any(|f| f.severity == Severity::Critical));
    }

    #[test]
    fn itemsizes() {
        assert_eq!(numpy_itemsize("<f8"), Some(8));
        assert_eq!(numpy_itemsize("|u1"), Some(1));
        assert_eq!(numpy_itemsize("<U3"), Some(12));
        assert_eq!(numpy_itemsize("float32"), Some(4));
    }
}
