//! Framing of the sync protocol `/trustband/sync/1` on a libp2p stream.
//!
//! One request and one response per stream, each a `u32` big-endian length and then that many
//! bytes (a [`crate::net::wire`] envelope). The codec only frames: it checks the length against
//! a cap before reading (a forged length never allocates more than the cap) and hands the
//! bytes up unparsed, so the driver decodes them knowing which peer sent them and can
//! penalise that peer for garbage.

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;

/// The sync protocol's name.
pub const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/trustband/sync/1");

/// Length-prefixed byte frames with size caps.
#[derive(Debug, Clone, Copy)]
pub struct FrameCodec {
    /// Largest request accepted, in bytes.
    pub max_request: u32,
    /// Largest response accepted, in bytes.
    pub max_response: u32,
}

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T, max: u32) -> io::Result<Vec<u8>> {
    let mut prefix = [0u8; 4];
    io.read_exact(&mut prefix).await?;
    let len = u32::from_be_bytes(prefix);
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the cap of {max}"),
        ));
    }
    let mut buf = Vec::new();
    io.take(u64::from(len)).read_to_end(&mut buf).await?;
    if u32::try_from(buf.len()).ok() != Some(len) {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("frame announced {len} bytes, got {}", buf.len()),
        ));
    }
    Ok(buf)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(
    io: &mut T,
    bytes: &[u8],
    max: u32,
) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|&n| n <= max)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("frame of {} bytes exceeds the cap of {max}", bytes.len()),
            )
        })?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(bytes).await?;
    io.flush().await
}

impl libp2p::request_response::Codec for FrameCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, self.max_request).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, self.max_response).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &req, self.max_request).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &res, self.max_response).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn frames_round_trip_and_caps_hold() {
        futures::executor::block_on(async {
            let mut wire = Vec::new();
            write_frame(&mut wire, b"abc", 10).await.unwrap();
            assert_eq!(wire, vec![0, 0, 0, 3, b'a', b'b', b'c']);
            let mut reader = futures::io::Cursor::new(wire.clone());
            assert_eq!(read_frame(&mut reader, 10).await.unwrap(), b"abc");
            // Over the reader's cap: refused before reading the body.
            let mut reader = futures::io::Cursor::new(wire.clone());
            let err = read_frame(&mut reader, 2).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            // A forged length longer than the stream.
            let mut short = wire.clone();
            short[3] = 9;
            let mut reader = futures::io::Cursor::new(short);
            let err = read_frame(&mut reader, 10).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
            // The writer refuses frames over its cap.
            let mut sink = Vec::new();
            assert!(write_frame(&mut sink, &[0; 11], 10).await.is_err());
        });
    }
}
