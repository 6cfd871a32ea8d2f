//! Reading an MCAP file through its summary, one chunk at a time, with plain
//! file reads. The mcap crate's examples memory-map the file, but that needs
//! `unsafe` (forbidden in this workspace) and lets a file truncated under us
//! crash the process; a chunk read with `read_exact` fails as an error
//! instead. A message is found again by its chunk and its place in it.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mcap::records::{ChunkIndex, MessageHeader, Record, op};
use mcap::sans_io::{SummaryReadEvent, SummaryReader, SummaryReaderOptions};

use crate::error::DatasetError;

/// Where a message is: which chunk (in file order) and which message of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageAt {
    pub chunk: u32,
    pub ordinal: u32,
}

/// A chunk's messages in order, with their headers.
pub type ChunkMessages = Vec<(MessageHeader, Vec<u8>)>;

/// A decompressed chunk beyond this is a corrupt header, not a recording:
/// rosbag2 and the mcap libraries write chunks of about 1 MiB, or one
/// message when it is larger, and no camera image comes near it.
const MAX_CHUNK_BYTES: u64 = 1 << 30;

/// An opened MCAP file: its summary (channels, schemas, chunk indexes).
pub struct McapFile {
    path: PathBuf,
    file: File,
    file_len: u64,
    summary: mcap::Summary,
    /// Chunk indexes in file order.
    chunks: Vec<ChunkIndex>,
}

impl std::fmt::Debug for McapFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McapFile")
            .field("path", &self.path)
            .field("chunks", &self.chunks.len())
            .finish_non_exhaustive()
    }
}

impl McapFile {
    pub fn open(path: &Path) -> Result<Self, DatasetError> {
        let layout = |message: String| DatasetError::Layout {
            path: path.to_path_buf(),
            message,
        };
        let read_error = |source| DatasetError::Read {
            path: path.to_path_buf(),
            source,
        };
        let mut file = File::open(path).map_err(read_error)?;
        let file_len = file.metadata().map_err(read_error)?.len();
        let mut magic = [0u8; 8];
        let starts_with_magic = file.read_exact(&mut magic).is_ok() && magic == mcap::MAGIC;
        if !starts_with_magic {
            return Err(layout(
                "not an MCAP file (it does not start with the MCAP magic bytes)".to_owned(),
            ));
        }
        let summary = read_summary(&mut file, file_len)
            .map_err(|e| layout(format!("cannot read the MCAP summary: {e}")))?
            .ok_or_else(|| {
                layout(
                    "the MCAP file has no summary section (a recording that was not \
                     finished?); `mcap recover` can rewrite it with one"
                        .to_owned(),
                )
            })?;
        let mut chunks = summary.chunk_indexes.clone();
        chunks.sort_by_key(|c| c.chunk_start_offset);
        let messages = summary.stats.as_ref().map_or(0, |s| s.message_count);
        if chunks.is_empty() && messages > 0 {
            return Err(layout(
                "the MCAP file has no chunk index (messages outside chunks); \
                 `mcap recover` can rewrite it chunked"
                    .to_owned(),
            ));
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
            file_len,
            summary,
            chunks,
        })
    }

    pub fn channels(&self) -> &HashMap<u16, Arc<mcap::Channel<'static>>> {
        &self.summary.channels
    }

    /// The topic of a channel, for messages.
    pub fn topic(&self, channel_id: u16) -> &str {
        self.summary
            .channels
            .get(&channel_id)
            .map_or("?", |c| c.topic.as_str())
    }

    /// Calls `visit` with every message of the `wanted` channels, chunk by
    /// chunk in file order. Chunks whose index says they hold none of them
    /// are not read.
    pub fn for_each_message(
        &mut self,
        wanted: &HashSet<u16>,
        mut visit: impl FnMut(MessageAt, &MessageHeader, &[u8]) -> Result<(), DatasetError>,
    ) -> Result<(), DatasetError> {
        for chunk in 0..self.chunks.len() {
            let index = &self.chunks[chunk];
            let listed = &index.message_index_offsets;
            if !listed.is_empty() && !listed.keys().any(|id| wanted.contains(id)) {
                continue;
            }
            let chunk = u32::try_from(chunk).unwrap_or(u32::MAX);
            for (ordinal, (header, data)) in self.read_chunk(chunk)?.into_iter().enumerate() {
                if wanted.contains(&header.channel_id) {
                    let ordinal = u32::try_from(ordinal).unwrap_or(u32::MAX);
                    visit(MessageAt { chunk, ordinal }, &header, &data)?;
                }
            }
        }
        Ok(())
    }

    /// Every message of one chunk, in order (the ordinals of [`MessageAt`]).
    pub fn read_chunk(&mut self, chunk: u32) -> Result<ChunkMessages, DatasetError> {
        let layout = |message: String| DatasetError::Layout {
            path: self.path.clone(),
            message,
        };
        let index = self
            .chunks
            .get(chunk as usize)
            .ok_or_else(|| layout(format!("no chunk {chunk}")))?;
        let at = index.chunk_start_offset;
        let end = at.checked_add(index.chunk_length);
        if end.is_none_or(|end| end > self.file_len) || index.chunk_length < 9 {
            return Err(layout(format!(
                "the chunk index points past the end of the file (chunk at byte {at})"
            )));
        }
        let mut record = vec![0u8; index.chunk_length as usize];
        self.file
            .seek(SeekFrom::Start(at))
            .and_then(|_| self.file.read_exact(&mut record))
            .map_err(|source| DatasetError::Read {
                path: self.path.clone(),
                source,
            })?;
        if record[0] != op::CHUNK {
            return Err(layout(format!("no chunk record at byte {at}")));
        }
        // The record is opcode (1 byte) and length (8 bytes), then the body.
        let (header, data) = match mcap::parse_record(op::CHUNK, &record[9..]) {
            Ok(Record::Chunk { header, data }) => (header, data),
            Ok(_) => return Err(layout(format!("no chunk record at byte {at}"))),
            Err(e) => return Err(layout(format!("chunk at byte {at}: {e}"))),
        };
        if header.uncompressed_size > MAX_CHUNK_BYTES {
            return Err(layout(format!(
                "chunk at byte {at} claims {} bytes uncompressed",
                header.uncompressed_size
            )));
        }
        let records = mcap::read::ChunkReader::new(header, &data)
            .map_err(|e| layout(format!("chunk at byte {at}: {e}")))?;
        let mut messages = Vec::new();
        for record in records {
            match record {
                Ok(Record::Message { header, data }) => messages.push((header, data.into_owned())),
                Ok(_) => {}
                Err(e) => return Err(layout(format!("chunk at byte {at}: {e}"))),
            }
        }
        Ok(messages)
    }
}

fn read_summary(file: &mut File, file_len: u64) -> mcap::McapResult<Option<mcap::Summary>> {
    let mut reader =
        SummaryReader::new_with_options(SummaryReaderOptions::default().with_file_size(file_len));
    while let Some(event) = reader.next_event() {
        match event? {
            SummaryReadEvent::ReadRequest(need) => {
                let read = file.read(reader.insert(need))?;
                reader.notify_read(read);
            }
            SummaryReadEvent::SeekRequest(to) => {
                let at = file.seek(to)?;
                reader.notify_seeked(at);
            }
        }
    }
    Ok(reader.finish())
}
