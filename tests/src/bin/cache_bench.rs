//! `fraser-cache-bench`: would a shared Redis cache of decoded articles help servers
//! whose index sits on a slow mount and whose hot set does not fit in memory?
//!
//! Reads `--reads` articles, uniformly over a hot set of `--hot` articles, through a
//! per-server cache of `--cache` decoded articles (a tenth of the hot set by default),
//! in three ways:
//! - `local`: misses read the index through `pread` from the page cache;
//! - `slow D`: the same, plus a wait of D µs per miss (one round trip of a network
//!   filesystem per uncached article: its block is one read, the tables are in memory);
//! - `redis`: misses `GET` the article's postcard bytes from Redis (loopback) and
//!   decode them.
//!
//! Prints one JSON line per way: mean, p50, p99 per read (µs) and the hit rate.
//! Redis speaks RESP over a plain TCP stream here, so the bench needs no client crate.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use index::{ArticleRecord, Index, OpenOptions, RandomFilter};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "fraser-cache-bench",
    about = "Article reads: local index, slow mount, Redis"
)]
struct Args {
    /// The index directory.
    #[arg(long)]
    index: PathBuf,
    /// Redis address (loopback).
    #[arg(long, default_value = "127.0.0.1:6379")]
    redis: String,
    /// Articles in the hot set.
    #[arg(long, default_value_t = 4000)]
    hot: usize,
    /// Decoded articles the per-server cache holds (default: a tenth of the hot set).
    #[arg(long)]
    cache: Option<usize>,
    /// Reads per way.
    #[arg(long, default_value_t = 20_000)]
    reads: usize,
    /// Simulated per-miss delays of the slow mount, µs.
    #[arg(long, value_delimiter = ',', default_value = "500,1000,2000")]
    delays_us: Vec<u64>,
}

type BoxError = Box<dyn std::error::Error>;

fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    if !args.redis.starts_with("127.0.0.1:") && !args.redis.starts_with("localhost:") {
        return Err("loopback only: --redis must be 127.0.0.1:PORT".into());
    }
    let hot = hot_set(&args.index, args.hot)?;
    let cache = args.cache.unwrap_or(hot.len() / 10).max(1);
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let order: Vec<u64> = (0..args.reads)
        .map(|_| {
            rng = xorshift(rng);
            hot[(rng % hot.len() as u64) as usize]
        })
        .collect();
    let header = serde_json::json!({
        "hot_set": hot.len(), "cache": cache, "reads": args.reads,
        "loadavg": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
    });
    println!("{header}");

    for delay in std::iter::once(0).chain(args.delays_us.iter().copied()) {
        let index = open(&args.index, cache)?;
        // Warm the page cache and the tables; the per-server cache keeps only `cache`.
        for &id in &hot {
            index.article(id)?;
        }
        let mut times = Vec::with_capacity(order.len());
        let misses_before = index.stats().cache_misses;
        for &id in &order {
            let start = Instant::now();
            let misses = index.stats().cache_misses;
            index.article(id)?.ok_or("article vanished")?;
            if delay > 0 && index.stats().cache_misses > misses {
                spin(Duration::from_micros(delay));
            }
            times.push(start.elapsed());
        }
        let misses = index.stats().cache_misses - misses_before;
        let way = if delay == 0 {
            "local".to_owned()
        } else {
            format!("slow {delay}")
        };
        report(&way, &mut times, misses as usize, order.len());
    }

    // Redis: every hot article stored once, then read through the same small cache.
    let index = open(&args.index, cache)?;
    let mut redis = Redis::connect(&args.redis)?;
    for &id in &hot {
        let record = index.article(id)?.ok_or("article vanished")?;
        redis.set(&key(id), &postcard::to_stdvec(&*record)?)?;
    }
    let mut local = Fifo::new(cache);
    let mut times = Vec::with_capacity(order.len());
    let mut misses = 0;
    for &id in &order {
        let start = Instant::now();
        if local.get(id).is_none() {
            misses += 1;
            let bytes = redis.get(&key(id))?.ok_or("missing in redis")?;
            let record: ArticleRecord = postcard::from_bytes(&bytes)?;
            local.insert(id, Arc::new(record));
        }
        times.push(start.elapsed());
    }
    report("redis", &mut times, misses, order.len());
    for &id in &hot {
        redis.del(&key(id))?;
    }
    Ok(())
}

fn key(id: u64) -> String {
    format!("fraser-bench:article:{id}")
}

fn open(dir: &PathBuf, cache: usize) -> Result<Index, BoxError> {
    let options = OpenOptions {
        mmap: false,
        cache_capacity: cache,
    };
    let index = Index::open_with(dir, options)?;
    index.open_all()?;
    Ok(index)
}

fn hot_set(dir: &PathBuf, n: usize) -> Result<Vec<u64>, BoxError> {
    let index = Index::open(dir)?;
    let mut ids = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let filter = RandomFilter {
        min_sentences: 1,
        ..RandomFilter::default()
    };
    let mut seed = 1u64;
    let limit = n.min(index.manifest().counts.articles as usize);
    while ids.len() < limit && seed < (n as u64) * 50 {
        if let Some(id) = index.random(seed, &filter)?
            && seen.insert(id)
        {
            ids.push(id);
        }
        seed += 1;
    }
    Ok(ids)
}

fn report(way: &str, times: &mut [Duration], misses: usize, reads: usize) {
    times.sort_unstable();
    let us = |d: Duration| (d.as_secs_f64() * 1e7).round() / 10.0;
    let pct = |p: f64| us(times[((times.len() - 1) as f64 * p).round() as usize]);
    let mean = times.iter().sum::<Duration>() / times.len().max(1) as u32;
    let line = serde_json::json!({
        "way": way,
        "mean_us": us(mean),
        "p50_us": pct(0.5),
        "p99_us": pct(0.99),
        "hit_rate": 1.0 - misses as f64 / reads.max(1) as f64,
    });
    println!("{line}");
}

/// Waits precisely (a sleep overshoots by tens of µs).
fn spin(wait: Duration) {
    let until = Instant::now() + wait;
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// A first-in first-out cache (the index's own cache is a clock cache of the same bound).
struct Fifo {
    map: HashMap<u64, Arc<ArticleRecord>>,
    order: VecDeque<u64>,
    capacity: usize,
}

impl Fifo {
    fn new(capacity: usize) -> Fifo {
        Fifo {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    fn get(&self, id: u64) -> Option<Arc<ArticleRecord>> {
        self.map.get(&id).cloned()
    }

    fn insert(&mut self, id: u64, record: Arc<ArticleRecord>) {
        if self.map.insert(id, record).is_none() {
            self.order.push_back(id);
        }
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }
}

/// The few RESP commands the bench needs.
struct Redis {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Redis {
    fn connect(addr: &str) -> Result<Redis, BoxError> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Redis {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    fn command(&mut self, parts: &[&[u8]]) -> Result<Option<Vec<u8>>, BoxError> {
        let mut out = format!("*{}\r\n", parts.len()).into_bytes();
        for part in parts {
            out.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
            out.extend_from_slice(part);
            out.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&out)?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let line = line.trim_end();
        match line.as_bytes().first() {
            Some(b'+') | Some(b':') => Ok(Some(line.as_bytes()[1..].to_vec())),
            Some(b'$') => {
                let len: i64 = line[1..].parse()?;
                if len < 0 {
                    return Ok(None);
                }
                let mut bytes = vec![0; len as usize + 2];
                self.reader.read_exact(&mut bytes)?;
                bytes.truncate(len as usize);
                Ok(Some(bytes))
            }
            _ => Err(format!("redis: {line}").into()),
        }
    }

    fn set(&mut self, key: &str, value: &[u8]) -> Result<(), BoxError> {
        self.command(&[b"SET", key.as_bytes(), value]).map(drop)
    }

    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, BoxError> {
        self.command(&[b"GET", key.as_bytes()])
    }

    fn del(&mut self, key: &str) -> Result<(), BoxError> {
        self.command(&[b"DEL", key.as_bytes()]).map(drop)
    }
}
