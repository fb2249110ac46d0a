//! The pickle opcodes of protocols 0 to 5: each opcode's byte, its name (as CPython's
//! `pickletools` spells it) and the argument it carries in the stream.
//!
//! The one opcode table of the workspace: the restricted machine of this crate
//! ([`super::parse`]) and the scanner's symbolic machine (`weighhouse-scan`) both read opcodes
//! through these constants, and [`arg`] says how many bytes follow each opcode.

/// What follows an opcode in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// Nothing: the opcode works on the stack alone.
    None,
    /// This many bytes: a little-endian integer (a big-endian double for `BINFLOAT`).
    Fixed(usize),
    /// A little-endian length of this many bytes, then that many bytes. The 4-byte lengths of
    /// `BINSTRING` and `LONG4` are signed in CPython (a negative one is refused); the others are
    /// unsigned.
    Counted(usize),
    /// One line, ending at `\n`.
    Line,
    /// Two lines (`GLOBAL` and `INST`: a module, then a name).
    TwoLines,
}

/// One opcode of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opcode {
    /// Its byte.
    pub code: u8,
    /// Its name.
    pub name: &'static str,
    /// What follows it.
    pub arg: Arg,
}

/// Push a mark: the start of a group of stack items.
pub const MARK: u8 = b'(';
/// End of the pickle: the top of the stack is the result.
pub const STOP: u8 = b'.';
/// Discard the top of the stack.
pub const POP: u8 = b'0';
/// Discard everything down to the last mark.
pub const POP_MARK: u8 = b'1';
/// Push the top of the stack again.
pub const DUP: u8 = b'2';
/// A float as a decimal line.
pub const FLOAT: u8 = b'F';
/// An int (or `00`/`01` for a bool) as a decimal line.
pub const INT: u8 = b'I';
/// A signed 4-byte little-endian int.
pub const BININT: u8 = b'J';
/// An unsigned 1-byte int.
pub const BININT1: u8 = b'K';
/// A long as a decimal line, with an optional `L` suffix.
pub const LONG: u8 = b'L';
/// An unsigned 2-byte little-endian int.
pub const BININT2: u8 = b'M';
/// Push `None`.
pub const NONE: u8 = b'N';
/// A persistent id given as a line.
pub const PERSID: u8 = b'P';
/// A persistent id taken from the stack.
pub const BINPERSID: u8 = b'Q';
/// Call a callable with an argument tuple (both from the stack).
pub const REDUCE: u8 = b'R';
/// A quoted, escaped byte string as a line.
pub const STRING: u8 = b'S';
/// A byte string with a signed 4-byte length.
pub const BINSTRING: u8 = b'T';
/// A byte string with a 1-byte length.
pub const SHORT_BINSTRING: u8 = b'U';
/// A raw-unicode-escaped string as a line.
pub const UNICODE: u8 = b'V';
/// A UTF-8 string with a 4-byte length.
pub const BINUNICODE: u8 = b'X';
/// Append the top of the stack to the list below it.
pub const APPEND: u8 = b'a';
/// Set an object's state (`__setstate__` or its `__dict__`).
pub const BUILD: u8 = b'b';
/// Push a global: module and name lines.
pub const GLOBAL: u8 = b'c';
/// Build a dict from the items since the last mark.
pub const DICT: u8 = b'd';
/// Push an empty dict.
pub const EMPTY_DICT: u8 = b'}';
/// Extend a list with the items since the last mark.
pub const APPENDS: u8 = b'e';
/// Push a memo entry whose index is a decimal line.
pub const GET: u8 = b'g';
/// Push a memo entry with a 1-byte index.
pub const BINGET: u8 = b'h';
/// Build an instance of a class (module and name lines) from the items since the last mark.
pub const INST: u8 = b'i';
/// Push a memo entry with a 4-byte index.
pub const LONG_BINGET: u8 = b'j';
/// Build a list from the items since the last mark.
pub const LIST: u8 = b'l';
/// Push an empty list.
pub const EMPTY_LIST: u8 = b']';
/// Build an instance: class and arguments since the last mark.
pub const OBJ: u8 = b'o';
/// Store the top of the stack in the memo at a decimal-line index.
pub const PUT: u8 = b'p';
/// Store the top of the stack in the memo at a 1-byte index.
pub const BINPUT: u8 = b'q';
/// Store the top of the stack in the memo at a 4-byte index.
pub const LONG_BINPUT: u8 = b'r';
/// Set one key-value pair on the dict below them.
pub const SETITEM: u8 = b's';
/// Build a tuple from the items since the last mark.
pub const TUPLE: u8 = b't';
/// Push an empty tuple.
pub const EMPTY_TUPLE: u8 = b')';
/// Set the key-value pairs since the last mark on the dict below.
pub const SETITEMS: u8 = b'u';
/// A big-endian IEEE 754 double.
pub const BINFLOAT: u8 = b'G';
/// The protocol version (protocol 2+).
pub const PROTO: u8 = 0x80;
/// `cls.__new__(cls, *args)`.
pub const NEWOBJ: u8 = 0x81;
/// A global from the copyreg extension registry, 1-byte code.
pub const EXT1: u8 = 0x82;
/// A global from the copyreg extension registry, 2-byte code.
pub const EXT2: u8 = 0x83;
/// A global from the copyreg extension registry, 4-byte code.
pub const EXT4: u8 = 0x84;
/// Build a 1-tuple from the top of the stack.
pub const TUPLE1: u8 = 0x85;
/// Build a 2-tuple from the top two items.
pub const TUPLE2: u8 = 0x86;
/// Build a 3-tuple from the top three items.
pub const TUPLE3: u8 = 0x87;
/// Push `True`.
pub const NEWTRUE: u8 = 0x88;
/// Push `False`.
pub const NEWFALSE: u8 = 0x89;
/// A little-endian two's-complement int with a 1-byte length.
pub const LONG1: u8 = 0x8a;
/// A little-endian two's-complement int with a signed 4-byte length.
pub const LONG4: u8 = 0x8b;
/// A bytes object with a 4-byte length (protocol 3+).
pub const BINBYTES: u8 = b'B';
/// A bytes object with a 1-byte length (protocol 3+).
pub const SHORT_BINBYTES: u8 = b'C';
/// A UTF-8 string with a 1-byte length (protocol 4+).
pub const SHORT_BINUNICODE: u8 = 0x8c;
/// A UTF-8 string with an 8-byte length (protocol 4+).
pub const BINUNICODE8: u8 = 0x8d;
/// A bytes object with an 8-byte length (protocol 4+).
pub const BINBYTES8: u8 = 0x8e;
/// Push an empty set (protocol 4+).
pub const EMPTY_SET: u8 = 0x8f;
/// Add the items since the last mark to the set below (protocol 4+).
pub const ADDITEMS: u8 = 0x90;
/// Build a frozenset from the items since the last mark (protocol 4+).
pub const FROZENSET: u8 = 0x91;
/// `cls.__new__(cls, *args, **kwargs)` (protocol 4+).
pub const NEWOBJ_EX: u8 = 0x92;
/// Push a global whose module and name are the top two strings (protocol 4+).
pub const STACK_GLOBAL: u8 = 0x93;
/// Store the top of the stack in the memo at index `len(memo)` (protocol 4+).
pub const MEMOIZE: u8 = 0x94;
/// Start a frame of this many bytes (protocol 4+); the frame's opcodes follow.
pub const FRAME: u8 = 0x95;
/// A bytearray with an 8-byte length (protocol 5).
pub const BYTEARRAY8: u8 = 0x96;
/// Push the next out-of-band buffer (protocol 5).
pub const NEXT_BUFFER: u8 = 0x97;
/// Make the top of the stack a read-only view (protocol 5).
pub const READONLY_BUFFER: u8 = 0x98;

/// Every opcode, in the order of CPython's `pickletools` table.
pub const ALL: [Opcode; 68] = [
    def(MARK, "MARK", Arg::None),
    def(STOP, "STOP", Arg::None),
    def(POP, "POP", Arg::None),
    def(POP_MARK, "POP_MARK", Arg::None),
    def(DUP, "DUP", Arg::None),
    def(FLOAT, "FLOAT", Arg::Line),
    def(INT, "INT", Arg::Line),
    def(BININT, "BININT", Arg::Fixed(4)),
    def(BININT1, "BININT1", Arg::Fixed(1)),
    def(LONG, "LONG", Arg::Line),
    def(BININT2, "BININT2", Arg::Fixed(2)),
    def(NONE, "NONE", Arg::None),
    def(PERSID, "PERSID", Arg::Line),
    def(BINPERSID, "BINPERSID", Arg::None),
    def(REDUCE, "REDUCE", Arg::None),
    def(STRING, "STRING", Arg::Line),
    def(BINSTRING, "BINSTRING", Arg::Counted(4)),
    def(SHORT_BINSTRING, "SHORT_BINSTRING", Arg::Counted(1)),
    def(UNICODE, "UNICODE", Arg::Line),
    def(BINUNICODE, "BINUNICODE", Arg::Counted(4)),
    def(APPEND, "APPEND", Arg::None),
    def(BUILD, "BUILD", Arg::None),
    def(GLOBAL, "GLOBAL", Arg::TwoLines),
    def(DICT, "DICT", Arg::None),
    def(EMPTY_DICT, "EMPTY_DICT", Arg::None),
    def(APPENDS, "APPENDS", Arg::None),
    def(GET, "GET", Arg::Line),
    def(BINGET, "BINGET", Arg::Fixed(1)),
    def(INST, "INST", Arg::TwoLines),
    def(LONG_BINGET, "LONG_BINGET", Arg::Fixed(4)),
    def(LIST, "LIST", Arg::None),
    def(EMPTY_LIST, "EMPTY_LIST", Arg::None),
    def(OBJ, "OBJ", Arg::None),
    def(PUT, "PUT", Arg::Line),
    def(BINPUT, "BINPUT", Arg::Fixed(1)),
    def(LONG_BINPUT, "LONG_BINPUT", Arg::Fixed(4)),
    def(SETITEM, "SETITEM", Arg::None),
    def(TUPLE, "TUPLE", Arg::None),
    def(EMPTY_TUPLE, "EMPTY_TUPLE", Arg::None),
    def(SETITEMS, "SETITEMS", Arg::None),
    def(BINFLOAT, "BINFLOAT", Arg::Fixed(8)),
    def(PROTO, "PROTO", Arg::Fixed(1)),
    def(NEWOBJ, "NEWOBJ", Arg::None),
    def(EXT1, "EXT1", Arg::Fixed(1)),
    def(EXT2, "EXT2", Arg::Fixed(2)),
    def(EXT4, "EXT4", Arg::Fixed(4)),
    def(TUPLE1, "TUPLE1", Arg::None),
    def(TUPLE2, "TUPLE2", Arg::None),
    def(TUPLE3, "TUPLE3", Arg::None),
    def(NEWTRUE, "NEWTRUE", Arg::None),
    def(NEWFALSE, "NEWFALSE", Arg::None),
    def(LONG1, "LONG1", Arg::Counted(1)),
    def(LONG4, "LONG4", Arg::Counted(4)),
    def(BINBYTES, "BINBYTES", Arg::Counted(4)),
    def(SHORT_BINBYTES, "SHORT_BINBYTES", Arg::Counted(1)),
    def(SHORT_BINUNICODE, "SHORT_BINUNICODE", Arg::Counted(1)),
    def(BINUNICODE8, "BINUNICODE8", Arg::Counted(8)),
    def(BINBYTES8, "BINBYTES8", Arg::Counted(8)),
    def(EMPTY_SET, "EMPTY_SET", Arg::None),
    def(ADDITEMS, "ADDITEMS", Arg::None),
    def(FROZENSET, "FROZENSET", Arg::None),
    def(NEWOBJ_EX, "NEWOBJ_EX", Arg::None),
    def(STACK_GLOBAL, "STACK_GLOBAL", Arg::None),
    def(MEMOIZE, "MEMOIZE", Arg::None),
    def(FRAME, "FRAME", Arg::Fixed(8)),
    def(BYTEARRAY8, "BYTEARRAY8", Arg::Counted(8)),
    def(NEXT_BUFFER, "NEXT_BUFFER", Arg::None),
    def(READONLY_BUFFER, "READONLY_BUFFER", Arg::None),
];

const fn def(code: u8, name: &'static str, arg: Arg) -> Opcode {
    Opcode { code, name, arg }
}

/// Index in [`ALL`] of each byte's opcode.
const BY_CODE: [Option<u8>; 256] = {
    let mut table = [None; 256];
    let mut i = 0;
    while i < ALL.len() {
        table[ALL[i].code as usize] = Some(i as u8);
        i += 1;
    }
    table
};

/// The opcode whose byte is `code`, if any.
pub fn info(code: u8) -> Option<&'static Opcode> {
    BY_CODE[usize::from(code)].map(|i| &ALL[usize::from(i)])
}

/// The name of opcode `code`, if it is one.
pub fn name(code: u8) -> Option<&'static str> {
    info(code).map(|o| o.name)
}

/// What follows opcode `code` in the stream (`None` for a byte that is no opcode).
pub fn arg(code: u8) -> Option<Arg> {
    info(code).map(|o| o.arg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_consistent() {
        let mut seen = [false; 256];
        for o in &ALL {
            assert!(!seen[usize::from(o.code)], "{} twice", o.name);
            seen[usize::from(o.code)] = true;
        }
        assert_eq!(name(GLOBAL), Some("GLOBAL"));
        assert_eq!(arg(GLOBAL), Some(Arg::TwoLines));
        assert_eq!(arg(BINUNICODE8), Some(Arg::Counted(8)));
        assert_eq!(arg(FRAME), Some(Arg::Fixed(8)));
        assert_eq!(arg(b'H'), None);
        // Protocol 5 ends at READONLY_BUFFER; nothing above it is an opcode.
        assert!((READONLY_BUFFER + 1..=0xff).all(|c| info(c).is_none()));
    }
}
