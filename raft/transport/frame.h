/*
 * raft/transport/frame.h — the transport's frame format (pure functions,
 * no I/O, so the fuzzer can drive them).
 *
 *   offset 0  u32 LE  payload length
 *   offset 4  u32 LE  CRC-32C of the 4 length bytes followed by the payload
 *   offset 8  payload (raft_encode_message)
 *
 * The CRC also covers the length, so a damaged length is caught as soon as
 * the frame it announces is complete (and a huge one by max_payload).
 */
#ifndef RAFT_TRANSPORT_FRAME_H
#define RAFT_TRANSPORT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "raft.h"

#define RAFT_FRAME_HEADER 8

enum raft_frame_result
{
	RAFT_FRAME_OK = 0,			/* a whole frame: *payload, *payload_len */
	RAFT_FRAME_NEED_MORE = 1,	/* *need = bytes the frame needs in all */
	RAFT_FRAME_TOO_BIG = 2,		/* announced length > max_payload */
	RAFT_FRAME_BAD_CRC = 3
};

/* Writes the header for payload (already at buf + RAFT_FRAME_HEADER). */
void		raft_frame_seal(uint8_t *buf, size_t payload_len);

/*
 * Looks at the start of buf.  On RAFT_FRAME_OK the frame is
 * RAFT_FRAME_HEADER + *payload_len bytes long.  Never reads past len.
 */
int			raft_frame_parse(const uint8_t *buf, size_t len, size_t max_payload,
							 const uint8_t **payload, size_t *payload_len,
							 size_t *need);

/*
 * Encodes m into a new frame (malloc'd, *frame_len bytes).  RAFT_ENOMEM,
 * RAFT_ETOOBIG (payload > max_payload), RAFT_EINVAL (the codec refused).
 */
int			raft_frame_encode_message(const struct raft_message *m,
									  size_t max_payload,
									  uint8_t **frame, size_t *frame_len);

/*
 * Decodes a frame's payload into *m.  *entries (capacity *cap, may start
 * NULL) is the caller's decode array: it is grown when the message holds
 * more entries, bounded by the payload length.  Entry and snapshot data
 * point into payload.  RAFT_OK, RAFT_EMALFORMED, RAFT_EVERSION, RAFT_ENOMEM.
 */
int			raft_frame_decode_message(const uint8_t *payload, size_t len,
									  struct raft_message *m,
									  struct raft_entry **entries, size_t *cap);

#endif							/* RAFT_TRANSPORT_FRAME_H */
