//! What the lanes and ANS benches share: the command line, the exponent planes of a file,
//! and this thread's CPU clock.

use zipnn::codec::huffman;
use zipnn::DType;

/// The command line `FILE DTYPE [RUNS]` of bench `name`: FILE, the exponent planes of its
/// first 64 MiB and the runs (default 15); `None`, with a message, where it is wrong.
pub fn from_args(name: &str) -> Option<(String, Vec<Vec<u8>>, usize)> {
    let (file, dtype, data, runs) = args(name)?;
    let planes = exponent_planes(dtype, &data[..data.len().min(64 << 20)]);
    Some((file, planes, runs))
}

/// The command line `FILE DTYPE [RUNS]` of bench `name`: FILE, DTYPE, the file's bytes and
/// the runs (default 15); `None`, with a message, where it is wrong.
pub fn args(name: &str) -> Option<(String, DType, Vec<u8>, usize)> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if args.len() < 2 {
        eprintln!("usage: cargo bench --bench {name} -- FILE bf16|fp16|fp32 [RUNS]");
        return None;
    }
    let dtype = match args[1].as_str() {
        "bf16" => DType::Bf16,
        "fp16" => DType::Fp16,
        "fp32" => DType::Fp32,
        other => {
            eprintln!("unknown dtype {other}");
            return None;
        }
    };
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(15);
    let data = std::fs::read(&args[0]).expect("read FILE");
    Some((args[0].clone(), dtype, data, runs))
}

/// The lowest-entropy plane of each 256 KiB chunk.
fn exponent_planes(dtype: DType, data: &[u8]) -> Vec<Vec<u8>> {
    let planes = dtype.element_size();
    let mut split = vec![0u8; 256 << 10];
    data.chunks(256 << 10)
        .map(|c| {
            let m = c.len() / planes;
            zipnn::transform::split(dtype, planes, c, &mut split[..c.len()]);
            (0..planes)
                .map(|k| &split[k * m..(k + 1) * m])
                .min_by(|a, b| entropy(a).total_cmp(&entropy(b)))
                .expect("one plane at least")
                .to_vec()
        })
        // A plane of one value is a run in the format, not a Huffman plane.
        .filter(|p: &Vec<u8>| p.iter().any(|&b| b != p[0]))
        .collect()
}

fn entropy(p: &[u8]) -> f64 {
    let n = p.len() as f64;
    huffman::histogram(p)
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| -(c as f64 / n) * (c as f64 / n).log2())
        .sum()
}

#[cfg(target_os = "linux")]
pub fn thread_time() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

#[cfg(not(target_os = "linux"))]
pub fn thread_time() -> f64 {
    use std::sync::OnceLock;
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
}
