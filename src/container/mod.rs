//! Containers above the frame: files made of several frames.
//!
//! - [`safetensors`]: a safetensors file compressed tensor by tensor, with random access by
//!   tensor name and a byte-exact restore. It also opens what the reference package
//!   (PyPI zipnn 0.5.x) wrote: safetensors files whose tensors it stored as its frames, and
//!   `model.safetensors.znn` (a whole safetensors file in one of its frames).

pub mod reference;
pub mod safetensors;
