//! Code lengths: optimal length-limited lengths from a histogram, canonical codes.

use super::MAX_CODE_LEN;

/// Optimal code lengths under the `MAX_CODE_LEN` limit (package-merge); 0 for unused symbols.
/// A lone symbol gets length 1.
pub(super) fn code_lengths(hist: &[u32; 256]) -> [u8; 256] {
    code_lengths_within(hist, MAX_CODE_LEN)
}

/// Optimal code lengths of at most `limit` bits (1 to `MAX_CODE_LEN`; the used symbols must
/// fit, at most `2^limit` of them); 0 for unused symbols. A lone symbol gets length 1.
pub(crate) fn code_lengths_within(hist: &[u32; 256], limit: u32) -> [u8; 256] {
    debug_assert!((1..=MAX_CODE_LEN).contains(&limit));
    let mut lens = [0u8; 256];
    // Used symbols sorted by (count, symbol); keys are unique so the order is deterministic.
    let mut keys = [0u64; 256];
    let mut m = 0;
    for (s, &c) in hist.iter().enumerate() {
        if c != 0 {
            keys[m] = ((c as u64) << 8) | s as u64;
            m += 1;
        }
    }
    let keys = &mut keys[..m];
    keys.sort_unstable();
    match m {
        0 => return lens,
        1 => {
            lens[(keys[0] & 0xFF) as usize] = 1;
            return lens;
        }
        _ => {}
    }

    // Plain Huffman first (two queues over the sorted leaves); it is optimal whenever its
    // longest code is within the limit. Otherwise fall back to package-merge.
    let mut weight = [0u64; 512];
    let mut parent = [0u16; 512];
    for (w, &k) in weight.iter_mut().zip(keys.iter()) {
        *w = k >> 8;
    }
    let (mut next_leaf, mut next_node) = (0, m);
    for node in m..2 * m - 1 {
        let mut pick = || {
            let take_leaf =
                next_node == node || (next_leaf < m && weight[next_leaf] <= weight[next_node]);
            if take_leaf {
                next_leaf += 1;
                next_leaf - 1
            } else {
                next_node += 1;
                next_node - 1
            }
        };
        let (a, b) = (pick(), pick());
        weight[node] = weight[a] + weight[b];
        parent[a] = node as u16;
        parent[b] = node as u16;
    }
    // Parents come after their children, so depths resolve from the root down.
    let mut depth = [0u8; 512];
    let mut longest = 0;
    for i in (0..2 * m - 2).rev() {
        depth[i] = depth[parent[i] as usize] + 1;
        longest = longest.max(depth[i]);
    }
    if longest as u32 <= limit {
        for i in 0..m {
            lens[(keys[i] & 0xFF) as usize] = depth[i];
        }
        return lens;
    }
    package_merge(keys, &mut lens, limit);
    lens
}

/// Optimal lengths within `limit` bits (at most `MAX_CODE_LEN`) for the used symbols, given
/// as (count << 8 | symbol) keys in ascending order (at least two of them, at most
/// `2^limit`).
pub(super) fn package_merge(keys: &[u64], lens: &mut [u8; 256], limit: u32) {
    let l = limit as usize;
    let m = keys.len();
    debug_assert!(m <= 1 << l);
    let leaf = |i: usize| keys[i] >> 8;
    // Lists per level, from the deepest (index limit-1: the leaves alone) up to index 0. Each
    // list is the merge, by weight, of the leaves and the pairs of the list below it.
    // `is_leaf[d][i]` tells whether item i of list d is a leaf (else a package).
    let mut is_leaf = [[false; 512]; MAX_CODE_LEN as usize];
    let mut list_len = [0usize; MAX_CODE_LEN as usize];
    // The list below and the one being built; they trade places by index after each level
    // (swapping the arrays themselves copied 8 KB a level, most of a small plane's cost).
    let mut lists = [[0u64; 512]; 2];
    let mut below = 0;
    for i in 0..m {
        lists[below][i] = leaf(i);
        is_leaf[l - 1][i] = true;
    }
    list_len[l - 1] = m;
    for d in (0..l - 1).rev() {
        let (first, second) = lists.split_at_mut(1);
        let (prev, cur) = if below == 0 {
            (&first[0], &mut second[0])
        } else {
            (&second[0], &mut first[0])
        };
        let packages = list_len[d + 1] / 2;
        let (mut i, mut j, mut o) = (0, 0, 0);
        while i < m || j < packages {
            let take_leaf = j == packages || (i < m && leaf(i) <= prev[2 * j] + prev[2 * j + 1]);
            if take_leaf {
                cur[o] = leaf(i);
                is_leaf[d][o] = true;
                i += 1;
            } else {
                cur[o] = prev[2 * j] + prev[2 * j + 1];
                j += 1;
            }
            o += 1;
        }
        list_len[d] = o;
        below ^= 1;
    }
    // Select the first 2m-2 items of the top list; each selected package selects two items of
    // the list below. A symbol's length is the number of lists in which it is selected; the
    // selected leaves of a list are always its lightest ones.
    let mut take = 2 * m - 2;
    for d in 0..l {
        debug_assert!(take <= list_len[d]);
        let take_here = take.min(list_len[d]);
        let leaves = is_leaf[d][..take_here].iter().filter(|&&b| b).count();
        for &k in &keys[..leaves] {
            lens[(k & 0xFF) as usize] += 1;
        }
        take = 2 * (take_here - leaves);
    }
}

/// Canonical codes (most significant bit first) for the lengths: codes are assigned in order
/// of (length, symbol value), consecutive within a length.
pub(crate) fn canonical_codes(lens: &[u8; 256]) -> [u32; 256] {
    let mut count = [0u32; MAX_CODE_LEN as usize + 1];
    for &l in lens.iter() {
        count[l as usize] += 1;
    }
    count[0] = 0;
    let mut next = [0u32; MAX_CODE_LEN as usize + 1];
    let mut code = 0u32;
    for l in 1..=MAX_CODE_LEN as usize {
        code = (code + count[l - 1]) << 1;
        next[l] = code;
    }
    let mut codes = [0u32; 256];
    for s in 0..256 {
        let l = lens[s] as usize;
        if l != 0 {
            codes[s] = next[l];
            next[l] += 1;
        }
    }
    codes
}

/// The low `len` bits of `code`, reversed.
pub(crate) fn reverse(code: u32, len: u32) -> u32 {
    code.reverse_bits() >> (32 - len)
}
