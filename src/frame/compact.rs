//! Compact frames (docs/FORMAT.md section 3.4): a frame of at most one chunk of at most
//! [`COMPACT_MAX_BODY`] bytes, with no metadata, no delta and no lossy step, whose header
//! holds only what such a frame needs (varint sizes, no chunk size, no per-chunk checksum)
//! and whose one checksum covers every byte before it. Its planes are coded one by one, as
//! in any chunk, or concatenated and coded as one byte string (*joined*).

use std::borrow::Cow;

use super::{
    checksum, coded_size_fits, le32, Header, CHUNK_CHECKSUM_SIZE, LAYOUT_SIZE, MAGIC,
    PLANE_ENTRY_SIZE,
};
use crate::codec::Codec;
use crate::error::{Error, Result};
use crate::options::{DType, Lossy};
use crate::transform::Layout;

/// Flag bit 3: the frame is compact.
pub const FLAG_COMPACT: u8 = 0x08;
/// The largest chunk (whole elements) a compact frame may hold.
pub const COMPACT_MAX_BODY: usize = 65536;
/// The chunk size a compact frame reports (its one chunk is never longer).
pub const COMPACT_CHUNK_SIZE: usize = COMPACT_MAX_BODY;
/// The shortest compact frame: magic, version, flags, dtype, form, a one-byte size, the
/// checksum.
pub const COMPACT_MIN_SIZE: usize = 4 + 1 + 1 + 1 + 1 + 1 + CHECKSUM_SIZE;
/// The longest header before the payloads: the fixed bytes, a 3-byte size, a 7-byte tail
/// and 8 plane entries of a codec and a 3-byte size.
pub const COMPACT_MAX_HEADER: usize = 8 + 3 + 7 + 8 * 4;
/// Bytes of the checksum that ends a compact frame.
const CHECKSUM_SIZE: usize = 4;
/// The magic number that starts every zstd frame; a compact frame's zstd payloads omit it.
pub(super) const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// Varints of a compact frame are at most this long (values below 2^21).
const VARINT_MAX: usize = 3;

/// Form byte (offset 7): bits 0-1 log2(planes), bit 2 layout, bit 3 joined, bits 4-7 the
/// joined codec.
const FORM_LAYOUT: u8 = 0x04;
const FORM_JOINED: u8 = 0x08;

/// The planes of a compact frame's chunk, as its header gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    /// Each plane coded on its own: (codec code, coded size) per plane.
    Planes([(u8, usize); 8]),
    /// All planes, concatenated in plane order, coded as one: codec code, coded size.
    Joined(u8, usize),
}

/// Everything a compact frame's header says, before any rule but the length ones is
/// checked.
#[derive(Debug, Clone, Copy)]
struct Structure {
    form: u8,
    planes: usize,
    original_size: u64,
    tail_len: usize,
    /// `None` for a frame with no chunk.
    coding: Option<Coding>,
    payload_at: usize,
    payload_len: usize,
}

impl Structure {
    fn frame_len(&self) -> usize {
        self.payload_at + self.payload_len + CHECKSUM_SIZE
    }

    fn body(&self) -> usize {
        (self.original_size - self.tail_len as u64) as usize
    }
}

/// Why a prefix does not give a compact frame's structure.
enum Short {
    /// The prefix ends first: at least this many bytes are needed.
    Need(usize),
    /// The bytes are not a compact frame.
    Bad(Error),
}

impl From<Error> for Short {
    fn from(e: Error) -> Short {
        Short::Bad(e)
    }
}

/// The varint at `src[at..]` and the offset after it. Little-endian base 128, at most
/// [`VARINT_MAX`] bytes, the shortest form (a last byte of zero after another is
/// `Corrupt`).
fn varint(src: &[u8], at: usize) -> std::result::Result<(u64, usize), Short> {
    let mut v = 0u64;
    for i in 0..VARINT_MAX {
        let b = *src.get(at + i).ok_or(Short::Need(at + i + 1))?;
        v |= ((b & 0x7F) as u64) << (7 * i);
        if b & 0x80 == 0 {
            if b == 0 && i > 0 {
                return Err(Short::Bad(Error::Corrupt));
            }
            return Ok((v, at + i + 1));
        }
    }
    Err(Short::Bad(Error::Corrupt))
}

/// Appends `v` (below 2^21) as a varint.
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    debug_assert!(v < 1 << (7 * VARINT_MAX));
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bytes of `v` as a varint.
fn varint_len(v: u64) -> usize {
    match v {
        0..0x80 => 1,
        0x80..0x4000 => 2,
        _ => 3,
    }
}

/// The coded size of a payload of `codec` for `n` bytes: implied for raw (`n`) and run
/// (1), else the varint at `at`.
fn coded_size(
    src: &[u8],
    at: usize,
    codec: u8,
    n: usize,
) -> std::result::Result<(usize, usize), Short> {
    match codec {
        0 => Ok((n, at)),
        1 => Ok((1, at)),
        _ => {
            let (v, at) = varint(src, at)?;
            Ok((v as usize, at))
        }
    }
}

/// Reads a compact frame's header from `src` (magic, version and flags already checked):
/// only the rules that its length needs (docs/FORMAT.md 3.4, step 2).
fn structure(src: &[u8]) -> std::result::Result<Structure, Short> {
    let &form = src.get(7).ok_or(Short::Need(8))?;
    let planes = 1usize << (form & 3);
    let (original_size, mut at) = varint(src, 8)?;
    let tail_len = (original_size % planes as u64) as usize;
    let body = (original_size - tail_len as u64) as usize;
    if body > COMPACT_MAX_BODY {
        return Err(Short::Bad(Error::Corrupt));
    }
    if src.len() < at + tail_len {
        return Err(Short::Need(at + tail_len));
    }
    at += tail_len;
    let coding = if body == 0 {
        None
    } else if form & FORM_JOINED != 0 {
        let codec = form >> 4;
        let (size, next) = coded_size(src, at, codec, body)?;
        at = next;
        Some(Coding::Joined(codec, size))
    } else {
        let n = body / planes;
        let mut entries = [(0u8, 0usize); 8];
        for e in &mut entries[..planes] {
            let codec = *src.get(at).ok_or(Short::Need(at + 1))?;
            let (size, next) = coded_size(src, at + 1, codec, n)?;
            *e = (codec, size);
            at = next;
        }
        Some(Coding::Planes(entries))
    };
    let payload_len = match coding {
        None => 0,
        Some(Coding::Joined(_, s)) => s,
        Some(Coding::Planes(e)) => e[..planes].iter().map(|p| p.1).sum(),
    };
    Ok(Structure {
        form,
        planes,
        original_size,
        tail_len,
        coding,
        payload_at: at,
        payload_len,
    })
}

/// Whether the frame at the start of `src` (at least 6 bytes, magic and version checked)
/// says it is compact. Flags other than the compact bit and the three assigned ones are
/// `UnsupportedFlags`; the compact bit with any of those three is `Corrupt`.
pub fn is_compact(src: &[u8]) -> Result<bool> {
    let flags = src[5];
    if flags & FLAG_COMPACT == 0 {
        return Ok(false);
    }
    if flags & !(FLAG_COMPACT | super::KNOWN_FLAGS) != 0 {
        return Err(Error::UnsupportedFlags);
    }
    if flags != FLAG_COMPACT {
        return Err(Error::Corrupt);
    }
    Ok(true)
}

/// What a prefix of a compact frame tells of its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measured {
    /// The whole frame is this many bytes.
    Len(usize),
    /// The prefix is too short to tell: at least this many bytes are needed.
    Need(usize),
}

/// The length of the compact frame that `prefix` starts (magic, version and flags already
/// checked, see [`is_compact`]), or how many bytes are needed to tell. Only the rules its
/// length needs are checked: the frame still has to be parsed.
pub fn measure(prefix: &[u8]) -> Result<Measured> {
    match structure(prefix) {
        Ok(s) => Ok(Measured::Len(s.frame_len())),
        Err(Short::Need(n)) => Ok(Measured::Need(n)),
        Err(Short::Bad(e)) => Err(e),
    }
}

/// The header fields of a compact frame, as the fixed header of an ordinary frame would
/// hold them (chunk size [`COMPACT_CHUNK_SIZE`]), from its *head* (its bytes up to the end
/// of its tail; magic, version and flags already checked): docs/FORMAT.md 3.4, step 3. The
/// checksum, which needs the whole frame, is not checked, so a caller may use the fields
/// only as a limit or a hint until the frame is parsed.
pub fn parse_head(src: &[u8]) -> Result<Header> {
    if src.len() < 8 {
        return Err(Error::Truncated);
    }
    let (dtype, form) = (src[6], src[7]);
    let planes = 1usize << (form & 3);
    let (original_size, at) = match varint(src, 8) {
        Ok(v) => v,
        Err(Short::Bad(e)) => return Err(e),
        Err(Short::Need(_)) => return Err(Error::Truncated),
    };
    let tail_len = (original_size % planes as u64) as usize;
    let mut tail = [0u8; 7];
    tail[..tail_len].copy_from_slice(src.get(at..at + tail_len).ok_or(Error::Truncated)?);
    let dtype = DType::from_code(dtype as u32)?;
    let planes_ok = match dtype {
        DType::Raw => true,
        d => planes == d.element_size(),
    };
    if !planes_ok || original_size - tail_len as u64 > COMPACT_MAX_BODY as u64 {
        return Err(Error::Corrupt);
    }
    Ok(Header {
        version: super::VERSION,
        flags: FLAG_COMPACT,
        dtype,
        planes,
        chunk_size: COMPACT_CHUNK_SIZE,
        original_size,
        tail_len,
        tail,
        metadata_size: 0,
        lossy: Lossy::None,
        base_hash: None,
    })
}

/// A parsed, checked compact frame, in the shape of an ordinary one: a chunk table entry
/// (with checksum 0: the frame's own checksum covers the payload and is checked here) and
/// the payload, where each zstd payload has its magic number back.
pub(crate) struct Parsed<'a> {
    pub header: Header,
    pub table: Vec<u8>,
    pub payload: Cow<'a, [u8]>,
    /// The codec of a joined chunk.
    pub joined: Option<Codec>,
    pub frame_size: usize,
}

/// Parses and checks the compact frame at the start of `src` (magic, version and flags
/// already checked): docs/FORMAT.md 3.4, steps 2 to 4. Bytes after it are not looked at.
pub(crate) fn parse(src: &[u8]) -> Result<Parsed<'_>> {
    let header = parse_head(src)?;
    let s = match structure(src) {
        Ok(s) => s,
        Err(Short::Need(_)) => return Err(Error::Truncated),
        Err(Short::Bad(e)) => return Err(e),
    };
    let end = s.frame_len();
    if end > src.len() {
        return Err(Error::Truncated);
    }
    let sum_at = end - CHECKSUM_SIZE;
    if checksum(&src[..sum_at]) as u32 != le32(src, sum_at) {
        return Err(Error::Checksum);
    }
    let body = s.body();
    let mut table = Vec::new();
    let mut joined = None;
    let raw_payload = &src[s.payload_at..sum_at];
    let mut zstd = false;
    match s.coding {
        None => {
            if s.form & !3 != 0 {
                return Err(Error::Corrupt);
            }
        }
        Some(coding) => {
            let layout = Layout::from_code((s.form & FORM_LAYOUT != 0) as u8, header.dtype)?;
            table.extend_from_slice(&[0u8; CHUNK_CHECKSUM_SIZE]);
            table.push(layout as u8);
            let mut entry = |codec: Codec, size: usize, n: usize| -> Result<()> {
                if !coded_size_fits(codec, size, n) {
                    return Err(Error::Corrupt);
                }
                zstd |= codec == Codec::Zstd;
                let stored = size
                    + if codec == Codec::Zstd {
                        ZSTD_MAGIC.len()
                    } else {
                        0
                    };
                table.push(codec as u8);
                table.extend_from_slice(&(stored as u32).to_le_bytes());
                Ok(())
            };
            match coding {
                Coding::Joined(code, size) => {
                    let codec = Codec::from_code(code)?;
                    entry(codec, size, body)?;
                    for _ in 1..s.planes {
                        entry(Codec::Raw, 0, 0)?;
                    }
                    joined = Some(codec);
                }
                Coding::Planes(e) => {
                    if s.form >> 4 != 0 {
                        return Err(Error::Corrupt);
                    }
                    let codecs: Vec<Codec> = e[..s.planes]
                        .iter()
                        .map(|&(c, _)| Codec::from_code(c))
                        .collect::<Result<_>>()?;
                    for (&(_, size), codec) in e[..s.planes].iter().zip(codecs) {
                        entry(codec, size, body / s.planes)?;
                    }
                }
            }
        }
    }
    let payload = if zstd {
        Cow::Owned(with_zstd_magic(raw_payload, &table))
    } else {
        Cow::Borrowed(raw_payload)
    };
    debug_assert_eq!(
        table.len(),
        if s.coding.is_some() {
            CHUNK_CHECKSUM_SIZE + LAYOUT_SIZE + PLANE_ENTRY_SIZE * s.planes
        } else {
            0
        }
    );
    Ok(Parsed {
        header,
        table,
        payload,
        joined,
        frame_size: end,
    })
}

/// The payload with the zstd magic number put back before each zstd payload (`table`'s
/// sizes count it).
fn with_zstd_magic(raw: &[u8], table: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 8 * ZSTD_MAGIC.len());
    let mut at = 0;
    for e in table[CHUNK_CHECKSUM_SIZE + LAYOUT_SIZE..].chunks_exact(PLANE_ENTRY_SIZE) {
        let mut size = le32(e, 1) as usize;
        if e[0] == Codec::Zstd as u8 {
            out.extend_from_slice(&ZSTD_MAGIC);
            size -= ZSTD_MAGIC.len();
        }
        out.extend_from_slice(&raw[at..at + size]);
        at += size;
    }
    out
}

/// A zstd frame as a compact frame stores it: without its magic number and, where the
/// frame gives its content size in two bytes (contents of 256 to 65791 bytes) in a single
/// segment, with a window descriptor in their place, one byte shorter. Returns the new
/// start (at most 2 bytes, `len` of them) and the rest of the frame after the part it
/// replaces.
fn zstd_bare(frame: &[u8]) -> ([u8; 2], usize, &[u8]) {
    debug_assert_eq!(frame[..4], ZSTD_MAGIC);
    let fhd = frame[4];
    let single_segment = fhd & 0x20 != 0;
    // Frame content size field of 2 bytes, no dictionary id.
    if single_segment && fhd >> 6 == 1 && fhd & 0x03 == 0 && frame.len() >= 7 {
        let size = u16::from_le_bytes([frame[5], frame[6]]) as u64 + 256;
        // The smallest window descriptor (exponent e, mantissa m) whose window holds the
        // content: 2^(10+e) + m * 2^(10+e) / 8 >= size.
        let mut wd = None;
        'search: for e in 0u8..=31 {
            for m in 0u8..8 {
                let base = 1u64 << (10 + e as u32);
                if base + (base / 8) * m as u64 >= size {
                    wd = Some(e << 3 | m);
                    break 'search;
                }
            }
        }
        if let Some(wd) = wd {
            return ([fhd & !0xE0, wd], 2, &frame[7..]);
        }
    }
    ([fhd, 0], 1, &frame[5..])
}

/// Length of `payload` of `codec` as a compact frame stores it.
fn stored_len(codec: Codec, payload: &[u8]) -> usize {
    if codec == Codec::Zstd {
        let (_, n, rest) = zstd_bare(payload);
        n + rest.len()
    } else {
        payload.len()
    }
}

/// Appends `payload` of `codec` as a compact frame stores it.
fn put_payload(out: &mut Vec<u8>, codec: Codec, payload: &[u8]) {
    if codec == Codec::Zstd {
        let (head, n, rest) = zstd_bare(payload);
        out.extend_from_slice(&head[..n]);
        out.extend_from_slice(rest);
    } else {
        out.extend_from_slice(payload);
    }
}

/// How the chunk of a compact frame to write is coded.
pub enum Chunk<'p> {
    /// A frame with no whole element.
    None,
    /// Each plane on its own: its codec and payload (zstd payloads as zstd frames).
    Planes(Layout, &'p [(Codec, &'p [u8])]),
    /// The planes of `layout` concatenated, coded with one codec.
    Joined(Layout, Codec, &'p [u8]),
}

/// Whether a frame with this header may be written compact (no metadata, delta or lossy
/// step; at most one chunk of at most [`COMPACT_MAX_BODY`] bytes).
pub fn eligible(h: &Header) -> bool {
    h.metadata_size == 0
        && h.base_hash.is_none()
        && h.lossy == Lossy::None
        && h.body_size() <= COMPACT_MAX_BODY.min(h.chunk_size) as u64
}

/// The length of the compact frame [`write`] would make.
pub fn frame_len(h: &Header, chunk: &Chunk<'_>) -> usize {
    let size = |codec: Codec, stored: usize| -> usize {
        match codec {
            Codec::Raw | Codec::Run => stored,
            _ => varint_len(stored as u64) + stored,
        }
    };
    let entries = match chunk {
        Chunk::None => 0,
        Chunk::Planes(_, p) => p
            .iter()
            .map(|&(c, pl)| 1 + size(c, stored_len(c, pl)))
            .sum(),
        Chunk::Joined(_, c, pl) => size(*c, stored_len(*c, pl)),
    };
    8 + varint_len(h.original_size) + h.tail_len + entries + CHECKSUM_SIZE
}

/// Appends the compact frame of `h` (see [`eligible`]) with `chunk` to `out`.
pub fn write(h: &Header, chunk: &Chunk<'_>, out: &mut Vec<u8>) {
    debug_assert!(eligible(h));
    let start = out.len();
    out.extend_from_slice(&MAGIC);
    out.push(super::VERSION);
    out.push(FLAG_COMPACT);
    out.push(h.dtype.code());
    let mut form = h.planes.trailing_zeros() as u8;
    match chunk {
        Chunk::None => {}
        Chunk::Planes(l, _) => form |= (*l as u8) << 2,
        Chunk::Joined(l, c, _) => form |= (*l as u8) << 2 | FORM_JOINED | (*c as u8) << 4,
    }
    out.push(form);
    put_varint(out, h.original_size);
    out.extend_from_slice(&h.tail[..h.tail_len]);
    let put_size = |out: &mut Vec<u8>, c: Codec, p: &[u8]| {
        if !matches!(c, Codec::Raw | Codec::Run) {
            put_varint(out, stored_len(c, p) as u64);
        }
    };
    match chunk {
        Chunk::None => {}
        Chunk::Planes(_, planes) => {
            for &(c, p) in planes.iter() {
                out.push(c as u8);
                put_size(out, c, p);
            }
            for &(c, p) in planes.iter() {
                put_payload(out, c, p);
            }
        }
        Chunk::Joined(_, c, p) => {
            put_size(out, *c, p);
            put_payload(out, *c, p);
        }
    }
    let sum = checksum(&out[start..]) as u32;
    out.extend_from_slice(&sum.to_le_bytes());
    debug_assert_eq!(out.len() - start, frame_len(h, chunk));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_are_minimal() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            16383,
            16384,
            65536 + 7,
            (1 << 21) - 1,
        ] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(b.len(), varint_len(v));
            assert!(matches!(varint(&b, 0), Ok((x, n)) if x == v && n == b.len()));
            for k in 0..b.len() {
                assert!(matches!(varint(&b[..k], 0), Err(Short::Need(n)) if n == k + 1));
            }
        }
        assert!(matches!(
            varint(&[0x80, 0x00], 0),
            Err(Short::Bad(Error::Corrupt))
        ));
        assert!(matches!(
            varint(&[0x80, 0x80, 0x80, 0x01], 0),
            Err(Short::Bad(Error::Corrupt))
        ));
    }

    #[test]
    fn window_descriptor_holds_the_content() {
        for size in [256u64, 1000, 1024, 1025, 5056, 65535, 65791] {
            let mut frame = ZSTD_MAGIC.to_vec();
            frame.push(0x60); // 2-byte content size, single segment
            frame.extend_from_slice(&((size - 256) as u16).to_le_bytes());
            frame.push(0xAA);
            let (head, n, rest) = zstd_bare(&frame);
            assert_eq!((n, rest), (2, &[0xAA][..]));
            assert_eq!(head[0], 0x00);
            let (e, m) = (head[1] >> 3, head[1] & 7);
            let base = 1u64 << (10 + e);
            let window = base + base / 8 * m as u64;
            assert!(window >= size, "{size}");
        }
    }
}
