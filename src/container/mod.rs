//! Containers above the frame: files made of several frames.
//!
//! - [`safetensors`]: a safetensors file compressed tensor by tensor, with random access by
//!   tensor name and a byte-exact restore.

pub mod safetensors;
