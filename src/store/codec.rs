//! Attribute blobs compressed with zstd and a dictionary trained on the store's own data.
//!
//! A span's or log record's attributes are small (about 140 bytes for the agent workload) and look
//! alike from one record to the next: the same keys, the same models and services. Compressed one by
//! one with plain zstd they barely shrink; with a dictionary trained on a few thousand of them each
//! becomes about a fifth of its size, and every record still decodes on its own (queries read single
//! rows). So the store keeps plain blobs until it has seen `SAMPLES` records of a kind, trains a
//! dictionary on them (off every hot thread), saves it in `blob_dicts` and from then on the
//! flatteners compress with it.
//!
//! A stored blob is either the plain encoded `KeyValueList` (which always starts with the byte 0x0a,
//! field 1 of the message) or `MARKER`, the dictionary's zstd id (4 bytes, little-endian), the plain
//! length (varint) and a magicless zstd frame. Dictionaries are registered process-wide by their zstd
//! id (a hash of their content), so any code holding a blob can decode it (`plain`) without knowing
//! which store it came from; a store registers its dictionaries when it opens and when it saves one.
//! The SQL functions (`store::functions`) decode the same way.

use super::rows::RowBatch;
use rusqlite::Connection;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, RwLock};
use zstd::bulk::{Compressor, Decompressor};
use zstd::dict::{DecoderDictionary, EncoderDictionary};
use zstd::zstd_safe::{CParameter, DParameter, FrameFormat};

/// First byte of a compressed blob (a plain `KeyValueList` starts with 0x0a).
const MARKER: u8 = 0x01;
/// Records of a kind collected before a dictionary is trained for it.
const SAMPLES: usize = 4096;
/// Dictionary size: 16 KiB did as well as 64 KiB on the agent workload (29.5 against 29.4 bytes).
const DICT_BYTES: usize = 16 * 1024;
/// zstd's default level: on the agent workload's blobs level 1 took about as long and left them 3%
/// larger (29.5 against 28.7 bytes, measured with python-zstandard).
const LEVEL: i32 = 3;
/// A header claiming more than this is damaged (no request the receivers take holds more), and is
/// not worth an allocation of that size.
const MAX_PLAIN: usize = 256 << 20;
/// Blobs shorter than this are kept plain: the header alone would eat the gain.
const MIN_COMPRESS: usize = 24;

/// What a dictionary is trained on: each kind has its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobKind {
    SpanAttrs = 1,
    LogAttrs = 2,
}

impl BlobKind {
    const ALL: [BlobKind; 2] = [BlobKind::SpanAttrs, BlobKind::LogAttrs];
    fn from_code(code: i64) -> Option<BlobKind> {
        BlobKind::ALL.into_iter().find(|k| *k as i64 == code)
    }
    fn slot(self) -> usize {
        self as usize - 1
    }
}

/// A dictionary in use: the leaked encoder lives as long as the process (a store trains at most
/// one per kind, so a process holds a handful).
struct ActiveDict {
    id: u32,
    encoder: &'static EncoderDictionary<'static>,
}

/// Dictionaries any store of this process has loaded or trained, by zstd id (with a hash of the
/// dictionary, to tell two different ones with the same id apart).
static DECODERS: LazyLock<RwLock<HashMap<u32, (u64, &'static DecoderDictionary<'static>)>>> = LazyLock::new(Default::default);

thread_local! {
    static COMPRESSORS: RefCell<HashMap<u32, Compressor<'static>>> = RefCell::new(HashMap::new());
    static DECOMPRESSORS: RefCell<HashMap<u32, Decompressor<'static>>> = RefCell::new(HashMap::new());
}

/// Makes blobs compressed with `dict` decodable anywhere in the process. False when another
/// dictionary already has its id (zstd ids are 31-bit hashes of the content: two stores of one
/// process would have to train colliding dictionaries).
fn register_decoder(id: u32, dict: &[u8]) -> bool {
    let content = crate::hash::Fnv64::new().write(dict).finish();
    let mut decoders = DECODERS.write().expect("decoder registry poisoned");
    let (known, _) = decoders
        .entry(id)
        .or_insert_with(|| (content, Box::leak(Box::new(DecoderDictionary::copy(dict)))));
    *known == content
}

/// The plain encoded attributes of a stored blob: the blob itself when it is plain. `None` when it
/// is compressed with a dictionary no store of this process has loaded, or damaged.
pub fn plain(blob: &[u8]) -> Option<Cow<'_, [u8]>> {
    if blob.first() != Some(&MARKER) {
        return Some(Cow::Borrowed(blob));
    }
    let (id, plain_len, frame) = parse_header(blob)?;
    let (_, decoder) = *DECODERS.read().ok()?.get(&id)?;
    DECOMPRESSORS.with(|cache| {
        let mut cache = cache.borrow_mut();
        let decompressor = match cache.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let mut d = Decompressor::with_prepared_dictionary(decoder).ok()?;
                d.set_parameter(DParameter::Format(FrameFormat::Magicless)).ok()?;
                e.insert(d)
            }
        };
        let out = decompressor.decompress(frame, plain_len).ok()?;
        (out.len() == plain_len).then_some(Cow::Owned(out))
    })
}

/// The length of the plain attributes without decompressing (the header says it).
pub fn plain_len(blob: &[u8]) -> usize {
    match blob.first() {
        Some(&MARKER) => parse_header(blob).map_or(0, |(_, len, _)| len),
        _ => blob.len(),
    }
}

fn parse_header(blob: &[u8]) -> Option<(u32, usize, &[u8])> {
    let id = u32::from_le_bytes(blob.get(1..5)?.try_into().ok()?);
    let mut rest = blob.get(5..)?;
    let len = usize::try_from(prost::encoding::decode_varint(&mut rest).ok()?).ok()?;
    (len <= MAX_PLAIN).then_some((id, len, rest))
}

/// One kind's dictionary state.
#[derive(Default)]
struct KindState {
    active: RwLock<Option<Arc<ActiveDict>>>,
    samples: Mutex<Vec<Vec<u8>>>,
    training: AtomicBool,
    /// Trained, waiting for the writer to save it (`take_trained`).
    trained: Mutex<Option<Vec<u8>>>,
}

/// A store's compression state: shared by the flatteners (which compress) and the writer (which
/// saves new dictionaries before they are used).
#[derive(Default)]
pub struct BlobCodec {
    kinds: [KindState; 2],
}

impl BlobCodec {
    /// The dictionaries saved in this database; the newest of each kind compresses from now on.
    pub fn load(conn: &Connection) -> rusqlite::Result<BlobCodec> {
        let codec = BlobCodec::default();
        let mut stmt = conn.prepare("SELECT kind, dict FROM blob_dicts ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        for row in rows {
            let (kind, dict) = row?;
            if let Some(kind) = BlobKind::from_code(kind) {
                codec.activate(kind, &dict);
            }
        }
        Ok(codec)
    }

    /// Compress `blob` in place when this kind has a dictionary and it saves space. False when the
    /// kind has none yet: the blob stays plain, and `without_dictionary` is given it.
    fn compress(&self, kind: BlobKind, blob: &mut Option<Vec<u8>>, without_dictionary: impl FnOnce(&[u8])) -> bool {
        let Some(plain) = blob.as_ref().filter(|b| b.first() != Some(&MARKER)) else {
            return true;
        };
        let state = &self.kinds[kind.slot()];
        let active = state.active.read().expect("codec poisoned").clone();
        match active {
            Some(dict) => {
                if plain.len() >= MIN_COMPRESS {
                    if let Some(packed) = compress_with(&dict, plain) {
                        *blob = Some(packed);
                    }
                }
                true
            }
            None => {
                without_dictionary(plain);
                false
            }
        }
    }

    /// `compress` every attribute blob of a batch's spans and log records; false when some stayed
    /// plain for want of a dictionary.
    fn compress_rows(&self, batch: &mut RowBatch, without_dictionary: impl Fn(BlobKind, &[u8])) -> bool {
        let mut all = true;
        for span in &mut batch.spans {
            all &= self.compress(BlobKind::SpanAttrs, &mut span.attrs, |plain| {
                without_dictionary(BlobKind::SpanAttrs, plain)
            });
        }
        for log in &mut batch.logs {
            all &= self.compress(BlobKind::LogAttrs, &mut log.attrs, |plain| {
                without_dictionary(BlobKind::LogAttrs, plain)
            });
        }
        all
    }

    fn sample(&self, kind: BlobKind, plain: &[u8]) {
        let state = &self.kinds[kind.slot()];
        if state.training.load(Ordering::Acquire) {
            return; // trained, or being trained: no more samples needed
        }
        let samples = {
            let mut collected = state.samples.lock().expect("codec poisoned");
            if collected.len() < SAMPLES {
                collected.push(plain.to_vec());
            }
            if collected.len() < SAMPLES || state.training.swap(true, Ordering::AcqRel) {
                return;
            }
            std::mem::take(&mut *collected)
        };
        // Tens of milliseconds, once per kind: on the flattener's blocking-pool thread that hit the
        // count, never on a receiver's or the writer's thread. Others keep storing plain meanwhile.
        match zstd::dict::from_samples(&samples, DICT_BYTES) {
            Ok(dict) => *state.trained.lock().expect("codec poisoned") = Some(dict),
            Err(err) => tracing::warn!("attribute compression: training a dictionary failed ({err}); blobs stay plain"),
        }
    }

    /// Compress the attribute blobs of a batch's spans and log records; until a kind has a
    /// dictionary its blobs stay plain, are kept as training samples, and mark the batch
    /// `awaiting_dictionary`.
    pub fn compress_batch(&self, batch: &mut RowBatch) {
        batch.awaiting_dictionary = !self.compress_rows(batch, |kind, plain| self.sample(kind, plain));
    }

    /// For the writer: compress what a batch `awaiting_dictionary` left plain, with the
    /// dictionaries saved since it was flattened (once per store, for the batches already on
    /// their way when the first dictionary was saved; each blob was sampled once already).
    pub fn catch_up(&self, batch: &mut RowBatch) {
        if batch.awaiting_dictionary {
            batch.awaiting_dictionary = !self.compress_rows(batch, |_, _| ());
        }
    }

    /// Dictionaries trained since the last call, for the writer to save (then `activate`).
    pub fn take_trained(&self) -> Vec<(BlobKind, Vec<u8>)> {
        BlobKind::ALL
            .into_iter()
            .filter_map(|kind| {
                let dict = self.kinds[kind.slot()].trained.lock().expect("codec poisoned").take()?;
                Some((kind, dict))
            })
            .collect()
    }

    /// Use `dict` for this kind from now on (it is saved, or being loaded from the database).
    pub fn activate(&self, kind: BlobKind, dict: &[u8]) {
        let id = zstd::zstd_safe::get_dict_id_from_dict(dict).map_or(0, |id| id.get());
        if !register_decoder(id, dict) {
            tracing::warn!(
                id,
                "attribute compression: another dictionary of this process has the same id; blobs stay plain"
            );
            return;
        }
        self.kinds[kind.slot()].samples.lock().expect("codec poisoned").clear();
        let encoder: &'static EncoderDictionary<'static> = Box::leak(Box::new(EncoderDictionary::copy(dict, LEVEL)));
        *self.kinds[kind.slot()].active.write().expect("codec poisoned") = Some(Arc::new(ActiveDict { id, encoder }));
    }

    /// Save each newly trained dictionary, then compress with it: a blob is never written before the
    /// dictionary that decodes it. A failed save drops the dictionary (blobs stay plain).
    pub fn save_trained(&self, conn: &Connection) {
        for (kind, dict) in self.take_trained() {
            let saved = conn.execute(
                "INSERT INTO blob_dicts(kind, created_ns, dict) VALUES (?1, ?2, ?3)",
                rusqlite::params![kind as i64, crate::pdata::now_ns() as i64, dict],
            );
            match saved {
                Ok(_) => self.activate(kind, &dict),
                Err(err) => tracing::warn!("attribute compression: saving a dictionary failed ({err}); blobs stay plain"),
            }
        }
    }

    /// Whether this kind compresses yet (tests and the bench).
    pub fn is_active(&self, kind: BlobKind) -> bool {
        self.kinds[kind.slot()].active.read().expect("codec poisoned").is_some()
    }
}

fn compress_with(dict: &ActiveDict, plain: &[u8]) -> Option<Vec<u8>> {
    COMPRESSORS.with(|cache| {
        let mut cache = cache.borrow_mut();
        let compressor = match cache.entry(dict.id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let mut c = Compressor::with_prepared_dictionary(dict.encoder).ok()?;
                for parameter in [
                    CParameter::Format(FrameFormat::Magicless),
                    CParameter::ContentSizeFlag(false),
                    CParameter::ChecksumFlag(false),
                    CParameter::DictIdFlag(false),
                ] {
                    c.set_parameter(parameter).ok()?;
                }
                e.insert(c)
            }
        };
        // Header, then the frame straight after it in the same buffer. Room for no more than the
        // plain blob: a frame that does not fit would not be worth keeping.
        let mut out = Vec::with_capacity(plain.len());
        out.push(MARKER);
        out.extend_from_slice(&dict.id.to_le_bytes());
        prost::encoding::encode_varint(plain.len() as u64, &mut out);
        let header = out.len() as u64;
        let mut cursor = std::io::Cursor::new(out);
        cursor.set_position(header);
        compressor.compress_to_buffer(plain, &mut cursor).ok()?;
        let out = cursor.into_inner();
        (out.len() < plain.len()).then_some(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::rows::{decode_attributes, flatten_traces};

    /// A migrated in-memory database with the SQL functions.
    fn database() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::schema::migrate(&mut conn).unwrap();
        crate::store::packed::attach(&conn).unwrap();
        crate::store::functions::register(&conn).unwrap();
        conn
    }

    /// Generated agent spans, flattened as the storage exporter does, until `spans` are made.
    fn span_batches(spans: usize) -> Vec<RowBatch> {
        let mut generator = crate::gen::Generator::new(5);
        let mut batches = Vec::new();
        let mut made = 0;
        while made < spans {
            let batch = flatten_traces(generator.traces_request(500));
            made += batch.spans.len();
            batches.push(batch);
        }
        batches
    }

    fn attrs(batches: &[RowBatch]) -> Vec<Option<Vec<u8>>> {
        batches.iter().flat_map(|b| b.spans.iter().map(|s| s.attrs.clone())).collect()
    }

    #[test]
    fn blobs_stay_plain_until_a_dictionary_is_saved_then_compress_to_a_fraction_and_decode_alone() {
        let conn = database();
        let codec = BlobCodec::default();
        let mut batches = span_batches(SAMPLES + 2000);
        let before = attrs(&batches);
        batches.iter_mut().for_each(|b| codec.compress_batch(b));
        assert_eq!(attrs(&batches), before, "nothing compresses before the dictionary is saved");
        assert!(!codec.is_active(BlobKind::SpanAttrs));

        codec.save_trained(&conn);
        assert!(codec.is_active(BlobKind::SpanAttrs));
        let saved: i64 = conn
            .query_row("SELECT count(*) FROM blob_dicts WHERE kind = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(saved, 1);

        batches.iter_mut().for_each(|b| codec.compress_batch(b));
        let after = attrs(&batches);
        let (plain_bytes, packed_bytes): (usize, usize) = before
            .iter()
            .zip(&after)
            .map(|(p, c)| (p.as_ref().map_or(0, Vec::len), c.as_ref().map_or(0, Vec::len)))
            .fold((0, 0), |(a, b), (p, c)| (a + p, b + c));
        assert!(
            packed_bytes * 3 < plain_bytes,
            "compressed {packed_bytes} bytes of {plain_bytes}: expected under a third"
        );
        for (plain_blob, packed) in before.iter().zip(&after) {
            let (Some(plain_blob), Some(packed)) = (plain_blob, packed) else {
                assert_eq!(plain_blob.is_none(), packed.is_none());
                continue;
            };
            assert_eq!(plain(packed).unwrap().as_ref(), plain_blob.as_slice());
            assert_eq!(plain_len(packed), plain_blob.len());
            assert_eq!(decode_attributes(Some(packed)), decode_attributes(Some(plain_blob)));
        }
        // Compressing again leaves a compressed blob as it is.
        let again = {
            let mut b = std::mem::take(&mut batches[0]);
            codec.compress_batch(&mut b);
            b.spans.iter().map(|s| s.attrs.clone()).collect::<Vec<_>>()
        };
        assert_eq!(again, after[..again.len()]);
    }

    #[test]
    fn the_sql_functions_read_compressed_blobs() {
        let conn = database();
        let codec = BlobCodec::default();
        let mut batches = span_batches(SAMPLES + 500);
        batches.iter_mut().for_each(|b| codec.compress_batch(b));
        codec.save_trained(&conn);
        batches.iter_mut().for_each(|b| codec.compress_batch(b));
        let span = batches
            .iter()
            .flat_map(|b| &b.spans)
            .find(|s| s.attrs.as_ref().is_some_and(|a| a[0] == MARKER))
            .unwrap();
        let packed = span.attrs.clone().unwrap();
        let decoded = decode_attributes(Some(&packed));
        let first = &decoded[0];
        let want = match first.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s)) => rusqlite::types::Value::Text(s.clone()),
            Some(opentelemetry_proto::tonic::common::v1::any_value::Value::IntValue(i)) => rusqlite::types::Value::Integer(*i),
            other => panic!("unexpected first attribute {other:?}"),
        };
        let got: rusqlite::types::Value = conn
            .query_row("SELECT otelbox_attr(?1, ?2)", rusqlite::params![packed, first.key], |r| r.get(0))
            .unwrap();
        assert_eq!(got, want);
        let (text, length): (Vec<u8>, i64) = conn
            .query_row("SELECT otelbox_plain(?1), otelbox_plain_length(?1)", [&packed], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(text, plain(&packed).unwrap().into_owned());
        assert_eq!(length as usize, text.len());
    }

    #[test]
    fn a_reopened_store_compresses_with_its_saved_dictionary() {
        let conn = database();
        let codec = BlobCodec::default();
        span_batches(SAMPLES).iter_mut().for_each(|b| codec.compress_batch(b));
        codec.save_trained(&conn);
        let reloaded = BlobCodec::load(&conn).unwrap();
        assert!(reloaded.is_active(BlobKind::SpanAttrs));
        assert!(!reloaded.is_active(BlobKind::LogAttrs), "log records have their own dictionary");
    }

    #[test]
    fn a_second_dictionary_with_a_known_id_is_not_used_and_samples_are_dropped_once_one_is() {
        assert!(register_decoder(0x7fff_0001, b"one dictionary"));
        assert!(register_decoder(0x7fff_0001, b"one dictionary"), "the same one again is fine");
        assert!(
            !register_decoder(0x7fff_0001, b"another one"),
            "a different one with that id is refused"
        );

        let conn = database();
        let codec = BlobCodec::default();
        span_batches(SAMPLES + 1000).iter_mut().for_each(|b| codec.compress_batch(b));
        codec.save_trained(&conn);
        assert!(codec.is_active(BlobKind::SpanAttrs));
        assert!(codec.kinds[BlobKind::SpanAttrs.slot()].samples.lock().unwrap().is_empty());
    }

    #[test]
    fn a_blob_of_an_unknown_dictionary_decodes_to_nothing_rather_than_garbage() {
        let mut blob = vec![MARKER];
        blob.extend_from_slice(&0xdead_beef_u32.to_le_bytes());
        prost::encoding::encode_varint(40, &mut blob);
        blob.extend_from_slice(&[7; 12]);
        assert!(plain(&blob).is_none());
        assert!(decode_attributes(Some(&blob)).is_empty());
        assert!(plain(&[MARKER, 1]).is_none(), "a cut header");
        let mut huge = vec![MARKER];
        huge.extend_from_slice(&0xdead_beef_u32.to_le_bytes());
        prost::encoding::encode_varint(1 << 40, &mut huge);
        assert!(plain(&huge).is_none(), "a damaged length allocates nothing");
        assert_eq!(plain_len(&huge), 0);
    }
}
