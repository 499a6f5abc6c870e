//! Compact frames (docs/FORMAT.md section 3.4): the encoder writes one for every frame that
//! may be compact ([`compact::eligible`]: at most one chunk of at most 64 KiB, no
//! metadata, delta or lossy step), which is always shorter than the ordinary frame (the
//! same plane payloads behind a header and checksum of 13 to 54 bytes in place of 48 to 97);
//! with method auto it also tries the chunk's planes concatenated and coded as one, with the
//! codecs the level tries on a plane (see [`tries_joined`] for where), and keeps the smaller.

use std::cell::RefCell;

use crate::codec::{self, Codec, Role};
use crate::error::Result;
use crate::frame::compact::{self, Chunk};
use crate::frame::{Frame, Header};
use crate::options::{DType, Level, Method, Options};
use crate::transform;

/// Per-thread buffers: the chunk's plane payloads, its planes concatenated, their joined
/// payload, and the frame.
#[derive(Default)]
struct Bufs {
    planes: Vec<u8>,
    joined: Vec<u8>,
    coded: Vec<u8>,
    adaptive: Vec<u8>,
    frame: Vec<u8>,
}

thread_local! {
    static BUFS: RefCell<Bufs> = RefCell::new(Bufs::default());
}

/// Joined chunks up to this long are tried at the default level with zstd at level
/// [`SMALL_JOINED_ZSTD`] at least. zstd picks smaller tables for inputs of up to 16 KiB,
/// where a frame's header is also a larger share: isnet-u8.i64 (5 056 bytes of int64 shape
/// constants, eight planes joined) comes to 187 bytes at level 3, 172 at 5 and 149 at 9
/// (zstd -3 on the file: 179), for 15 more microseconds per frame; on 64 KiB of such
/// constants level 9 took 4.3 ms against 0.45 ms, so longer chunks keep the level.
const SMALL_JOINED: usize = 16 * 1024;
/// See [`SMALL_JOINED`].
const SMALL_JOINED_ZSTD: i32 = 9;

/// Whether the joined coding is tried: method auto on a chunk of more than one plane, at
/// the max level, and at the default level on raw data (integers grouped by byte), whose
/// repeated whole values the grouping cuts apart. The fast level keeps its speed (the
/// per-plane form alone costs nothing more than the ordinary frame), and so do the float
/// dtypes at the default level: trying them joined cost 13% more instructions to compress
/// the ISNet fp16 archive and 8% for MiniLM bf16 (its 64 bias and norm tensors).
fn tries_joined(opts: &Options, planes: usize) -> bool {
    planes > 1
        && opts.method == Method::Auto
        && match opts.level {
            Level::Fast => false,
            Level::Default => opts.dtype == DType::Raw,
            Level::Max => true,
        }
}

/// Whether the adaptive coding (codec 10) is tried: method auto at the max level, on the
/// frames of at most 64 KiB that are compact, where the caller allows it (`allowed`: not
/// an archive's tensors, see `FramePlan::adaptive`). There a table per plane is a share of
/// the payload that an adaptive model does without, and the model follows statistics that
/// drift along the plane (the tensors of a file one after the other).
fn tries_adaptive(opts: &Options, allowed: bool) -> bool {
    allowed && opts.method == Method::Auto && opts.level == Level::Max
}

/// Writes the compact frame of `h` (which must be [`compact::eligible`]) whose chunk is
/// `chunk` (its whole elements; the tail is in `h`) into the start of `out`, and returns
/// its length. `out` must hold the ordinary frame (its header and `chunk.len()` bytes),
/// which the compact frame never exceeds.
pub(super) fn encode_frame(
    h: &Header,
    chunk: &[u8],
    opts: &Options,
    adaptive: bool,
    out: &mut [u8],
) -> usize {
    BUFS.with(|b| match b.try_borrow_mut() {
        Ok(mut bufs) => encode_with(h, chunk, opts, adaptive, out, &mut bufs),
        // Re-entered on this thread (cannot happen today): fresh buffers.
        Err(_) => encode_with(h, chunk, opts, adaptive, out, &mut Bufs::default()),
    })
}

fn encode_with(
    h: &Header,
    chunk: &[u8],
    opts: &Options,
    allow_adaptive: bool,
    out: &mut [u8],
    b: &mut Bufs,
) -> usize {
    let planes = h.planes;
    b.frame.clear();
    if chunk.is_empty() {
        compact::write(h, &Chunk::None, &mut b.frame);
    } else {
        b.planes.resize(chunk.len(), 0);
        let m = super::encode_chunk_into(chunk, opts, planes, &mut b.planes, false, true, false);
        let mut parts = [(Codec::Raw, &[][..]); 8];
        let mut at = 0;
        for (part, e) in parts.iter_mut().zip(&m.entry.planes[..planes]) {
            let size = e.size as usize;
            *part = (e.codec, &b.planes[at..at + size]);
            at += size;
        }
        let layout = m.entry.layout;
        let per_plane = Chunk::Planes(layout, &parts[..planes]);
        let mut best = per_plane;
        let adaptive = tries_adaptive(opts, allow_adaptive);
        if tries_joined(opts, planes) || adaptive {
            b.joined.resize(chunk.len(), 0);
            transform::split(
                layout.transform_dtype(h.dtype),
                planes,
                chunk,
                &mut b.joined,
            );
        }
        if tries_joined(opts, planes) {
            b.coded.resize(chunk.len(), 0);
            let small = Options {
                zstd_level: opts.zstd_level.max(SMALL_JOINED_ZSTD),
                ..opts.clone()
            };
            let o = if opts.level == Level::Default && chunk.len() <= SMALL_JOINED {
                &small
            } else {
                opts
            };
            let (codec, size) =
                codec::code_chunk_plane(&b.joined, None, o, Role::Main, true, &mut b.coded);
            // A raw joined chunk is the raw planes: the per-plane form says it as well.
            if codec != Codec::Raw {
                let joined = Chunk::Joined(layout, codec, &b.coded[..size]);
                if compact::frame_len(h, &joined) < compact::frame_len(h, &best) {
                    best = joined;
                }
            }
        }
        if adaptive {
            // The planes as the segments of one adaptive payload (codec 10), each stored or
            // coded, with the plane before as context where that codes it smaller; coded
            // only where its estimate is below the best frame so far.
            b.adaptive.clear();
            let bound = compact::frame_len(h, &best).min(chunk.len());
            if let Some(size) = codec::adaptive::encode(&b.joined, planes, bound, &mut b.adaptive) {
                let joined = Chunk::Joined(layout, Codec::Adaptive, &b.adaptive[..size]);
                if size < chunk.len()
                    && compact::frame_len(h, &joined) < compact::frame_len(h, &best)
                {
                    best = joined;
                }
            }
        }
        compact::write(h, &best, &mut b.frame);
    }
    let n = b.frame.len();
    out[..n].copy_from_slice(&b.frame);
    n
}

/// Decodes a compact frame's joined chunk (codec `codec`) into `dst` (the chunk's length):
/// the planes, concatenated, then merged as the chunk's layout says.
pub(super) fn decode_joined(frame: &Frame<'_>, codec: Codec, dst: &mut [u8]) -> Result<()> {
    let h = frame.header();
    let payload = frame.chunk_payload(0);
    if h.planes == 1 {
        return codec::decode_plane(codec, payload, dst);
    }
    super::with_scratch(dst.len(), |buf| {
        codec::decode_plane(codec, payload, buf)?;
        let n = dst.len() / h.planes;
        let mut views: [&[u8]; 8] = [&[]; 8];
        for (v, p) in views.iter_mut().zip(buf.chunks_exact(n.max(1))) {
            *v = p;
        }
        let dtype = frame.layout(0).transform_dtype(h.dtype);
        transform::merge_planes_with(dtype, &views[..h.planes], dst, false);
        Ok(())
    })
}
