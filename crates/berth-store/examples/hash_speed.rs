//! Hashes a file with berth's hasher and prints MB/s (a quick check that the
//! CPU's SHA extensions are in use). usage: hash_speed FILE
fn main() {
    use std::io::Read;
    let path = std::env::args().nth(1).expect("usage: hash_speed FILE");
    let mut f = std::fs::File::open(&path).expect("open");
    let mut h = berth_core::Sha256Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let t = std::time::Instant::now();
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).expect("read");
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    let s = t.elapsed().as_secs_f64();
    println!("{} {:.3}s {:.0} MB/s", h.finish(), s, n as f64 / s / 1e6);
}
