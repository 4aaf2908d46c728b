//! Bad input gets the documented status and a message saying what was wrong, stores nothing, and
//! the server keeps serving afterwards.

mod common;
use common::*;
use std::io::Write;

fn assert_nothing_stored(b: &Box) {
    assert_eq!(b.stored_spans(), 0, "bad input must not store anything");
}

#[test]
fn every_kind_of_bad_input_is_refused_clearly_and_changes_nothing() {
    let b = Box::start(&["--memory"]);

    // garbage protobuf
    let r = b.post("/v1/traces", "application/x-protobuf", b"\xff\xff\xffgarbage".to_vec());
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/x-protobuf");
    let status = tonic_types::pb::Status::decode(r.bytes().unwrap()).unwrap();
    assert_eq!(status.code, 3);
    assert!(status.message.contains("not a valid OTLP protobuf"), "{}", status.message);

    // malformed JSON
    let r = b.post("/v1/traces", "application/json", br#"{"resourceSpans": ["#.to_vec());
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().unwrap();
    assert!(body["message"].as_str().unwrap().contains("invalid JSON"), "{body}");

    // an id of the wrong length in JSON: the whole request is refused with the path
    let bad_id = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"abcd","spanId":"00f067aa0ba902b7","name":"x"}]}]}]}"#;
    let r = b.post("/v1/traces", "application/json; charset=utf-8", bad_id.to_vec());
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("spans[0].traceId") && message.contains("32 hex"), "{message}");

    // an unknown content type
    let r = b.post("/v1/traces", "text/plain", b"hello".to_vec());
    assert_eq!(r.status(), 415);
    assert!(r.text().unwrap().contains("application/x-protobuf or application/json"));

    // a gzip bomb: small on the wire, far over the limit once inflated
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![0u8; 40 * 1024 * 1024]).unwrap();
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 100_000);
    let r = b
        .client
        .post(format!("{}/v1/traces", b.http))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(bomb)
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(r.bytes().unwrap().windows(5).any(|w| w == b"limit"));

    // a corrupt gzip body and an unknown encoding
    let r = b
        .client
        .post(format!("{}/v1/traces", b.http))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body("not gzip")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = b
        .client
        .post(format!("{}/v1/traces", b.http))
        .header("content-type", "application/json")
        .header("content-encoding", "br")
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);

    // the wrong method
    let r = b.client.get(format!("{}/v1/traces", b.http)).send().unwrap();
    assert_eq!(r.status(), 405);

    // an empty body is a valid, empty export
    let r = b.post("/v1/traces", "application/x-protobuf", Vec::new());
    assert_eq!(r.status(), 200);
    let r = b.post("/v1/logs", "application/json", b"{}".to_vec());
    assert_eq!(r.status(), 200);

    // a filter expression with a syntax error: 400 with the column
    let (status, body) = b.get_json("/api/v1/traces?q=duration%20%3E%3D");
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_filter");
    assert!(body["error"]["message"].as_str().unwrap().contains("column"), "{body}");
    let (status, _) = b.get_json("/api/v1/traces/not-a-trace-id");
    assert_eq!(status, 400);

    assert_nothing_stored(&b);

    // ...and the server still serves good data
    let r = b.post("/v1/traces", "application/x-protobuf", encode(&trace_request("svc", "R1", 1, 3)));
    assert_eq!(r.status(), 200);
    assert_eq!(b.stored_spans(), 3);
}

#[test]
fn protobuf_spans_with_bad_ids_are_a_partial_success() {
    let b = Box::start(&["--memory"]);
    let mut request = trace_request("svc", "R2", 7, 4);
    request.resource_spans[0].scope_spans[0].spans[1].span_id = vec![1, 2, 3];
    let r = b.post("/v1/traces", "application/x-protobuf", encode(&request));
    assert_eq!(r.status(), 200);
    let response = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse::decode(r.bytes().unwrap()).unwrap();
    let partial = response.partial_success.expect("partial success");
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("span id must be 8"), "{}", partial.error_message);
    assert_eq!(b.stored_spans(), 3, "the valid spans are stored");
}

use prost::Message;

/// Sends bytes as they are as a gRPC `Export` message (no encoding on our side).
struct RawBytes;

impl tonic::codec::Codec for RawBytes {
    type Encode = bytes::Bytes;
    type Decode = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    type Encoder = RawEncoder;
    type Decoder = tonic_prost::ProstDecoder<Self::Decode>;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> Self::Decoder {
        tonic_prost::ProstDecoder::default()
    }
}

struct RawEncoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = bytes::Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: bytes::Bytes, dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

/// OTLP senders retry INTERNAL and OUT_OF_RANGE, which tonic answers for undecodable and oversized
/// messages: those must get codes that say "never", without RetryInfo.
#[test]
fn grpc_refuses_undecodable_and_oversized_messages_with_final_codes() {
    use tonic_types::StatusExt;
    let b = Box::start(&["--memory"]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let export = |body: Vec<u8>| {
        runtime.block_on(async {
            let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", b.grpc_port))
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut grpc = tonic::client::Grpc::new(channel).max_encoding_message_size(64 << 20);
            grpc.ready().await.unwrap();
            let path = http::uri::PathAndQuery::from_static("/opentelemetry.proto.collector.trace.v1.TraceService/Export");
            grpc.unary(tonic::Request::new(bytes::Bytes::from(body)), path, RawBytes)
                .await
                .unwrap_err()
        })
    };
    let undecodable = export(b"\xff\xff\xffgarbage".to_vec());
    assert_eq!(undecodable.code(), tonic::Code::InvalidArgument, "{undecodable:?}");
    assert!(undecodable.get_details_retry_info().is_none());
    let oversized = export(vec![0u8; 17 << 20]);
    assert_eq!(oversized.code(), tonic::Code::ResourceExhausted, "{oversized:?}");
    assert!(oversized.get_details_retry_info().is_none(), "no RetryInfo: final for OTLP senders");
    assert_nothing_stored(&b);
}

/// Peak resident memory of the box so far (VmHWM), in MiB.
fn peak_rss_mib(b: &Box) -> u64 {
    let pid = b.child.as_ref().unwrap().id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
}

/// Valid bodies made of empty messages decode to about a hundred times their size (8 MiB of empty
/// ResourceSpans: about 850 MiB; two at once killed the installed service at its 1 GiB ceiling).
/// Every receiver estimates the decoded size before decoding and refuses it for good, over HTTP
/// (protobuf and JSON) and gRPC (plain and gzip), and the box's peak memory stays small.
#[test]
fn amplified_bodies_are_refused_before_decoding_on_every_receiver() {
    use tonic_types::StatusExt;
    let b = Box::start(&["--memory"]);
    let empty_resource_spans = b"\x0a\x00".repeat(4 << 20); // 8 MiB, 4 Mi messages
    let response = b.post("/v1/traces", "application/x-protobuf", empty_resource_spans.clone());
    assert_eq!(response.status().as_u16(), 413);
    let text = response.text().unwrap();
    assert!(text.contains("once decoded"), "{text}");

    let mut json = String::from("{\"resourceSpans\":[");
    json.push_str(&"{},".repeat(3 << 20));
    json.push_str("{}]}");
    let response = b.post("/v1/traces", "application/json", json.into_bytes());
    assert_eq!(response.status().as_u16(), 413);
    assert!(response.text().unwrap().contains("once decoded"));

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let export = |body: Vec<u8>, gzip: bool| {
        runtime.block_on(async {
            let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", b.grpc_port))
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut grpc = tonic::client::Grpc::new(channel).max_encoding_message_size(64 << 20);
            if gzip {
                grpc = grpc.send_compressed(tonic::codec::CompressionEncoding::Gzip);
            }
            grpc.ready().await.unwrap();
            let path = http::uri::PathAndQuery::from_static("/opentelemetry.proto.collector.trace.v1.TraceService/Export");
            grpc.unary(tonic::Request::new(bytes::Bytes::from(body)), path, RawBytes)
                .await
                .unwrap_err()
        })
    };
    for gzip in [false, true] {
        let refused = export(empty_resource_spans.clone(), gzip);
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted, "gzip {gzip}: {refused:?}");
        assert!(refused.message().contains("once decoded"), "{refused:?}");
        assert!(refused.get_details_retry_info().is_none(), "final: smaller batches would do");
    }
    assert_nothing_stored(&b);
    let peak = peak_rss_mib(&b);
    assert!(peak < 300, "peak resident memory {peak} MiB");
    // The box still takes ordinary data.
    let ok = b.post("/v1/traces", "application/x-protobuf", encode(&trace_request("svc", "R", 1, 3)));
    assert_eq!(ok.status().as_u16(), 200);
}
