//! The deterministic random generator of the tests (xorshift64*): the crate's unit tests
//! use it as `crate::test_rng`, the integration tests through `tests/common`, which
//! includes this file. The golden vectors (tests/vectors) are made from its sequence:
//! changing it changes their inputs.
#![allow(dead_code)]

/// Advances the generator state `s` and returns the next value. A zero state (which
/// xorshift cannot leave) is replaced by a fixed nonzero one.
pub fn step(s: &mut u64) -> u64 {
    if *s == 0 {
        *s = 0x9E37_79B9_7F4A_7C15;
    }
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    s.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// A generator seeded with `Rng(seed)`.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        step(&mut self.0)
    }
    /// Uniform in `0..n` (`n` > 0; the small modulo bias does not matter to tests).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box-Muller).
    pub fn gauss(&mut self) -> f64 {
        let u = self.unit().max(1e-300);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}
