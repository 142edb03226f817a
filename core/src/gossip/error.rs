//! Why the pool refused something.

use std::net::SocketAddr;

use super::identity::IdentityError;
use super::timings::TimingsError;

/// A refused pool operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GossipError {
    /// The identity (or new tags) broke a limit. Nothing changed.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The timings are unusable. No pool was created.
    #[error(transparent)]
    Timings(#[from] TimingsError),
    /// A datagram was refused, wholly or from the first bad item on. Membership updates
    /// decoded before that item may have been applied: drain `poll_*` as after success.
    /// Expected for junk arriving on a public port; log it and carry on.
    #[error("gossip datagram refused: {0}")]
    Datagram(DatagramError),
    /// A join aimed at our own gossip address. Nothing was sent.
    #[error("cannot join {addr}: it is this agent's own gossip address")]
    JoinSelf {
        /// The address.
        addr: SocketAddr,
    },
    /// The pool has left; it takes no joins or tag changes. Start a new pool to rejoin.
    #[error("this agent has left the gossip pool")]
    Left,
    /// foca reported a broken invariant (a message that could not be encoded, a probe cycle
    /// that went wrong). foca recovers by itself; this is worth a warning in the logs.
    #[error("gossip protocol error: {0}")]
    Protocol(String),
}

/// What was wrong with a refused datagram.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DatagramError {
    /// Larger than the 1400-byte packet limit.
    #[error("larger than the packet limit")]
    TooBig,
    /// Framing was wrong (trailing bytes, bad item lengths).
    #[error("malformed packet")]
    Malformed,
    /// A header or member that does not decode.
    #[error("undecodable: {0}")]
    Decode(String),
    /// A custom broadcast item (leave intent) that does not decode.
    #[error("bad broadcast item: {0}")]
    Broadcast(String),
    /// Claims to come from our own identity or address: a looped or forged packet.
    #[error("claims to come from this agent")]
    FromOurselves,
    /// An indirect probe message naming us as its target or origin: forged or misrouted.
    #[error("indirect probe message about this agent")]
    IndirectForOurselves,
}

impl From<foca::Error> for GossipError {
    fn from(e: foca::Error) -> Self {
        let datagram = |d| GossipError::Datagram(d);
        match e {
            foca::Error::DataTooBig => datagram(DatagramError::TooBig),
            foca::Error::MalformedPacket => datagram(DatagramError::Malformed),
            foca::Error::Decode(err) => datagram(DatagramError::Decode(err.to_string())),
            foca::Error::CustomBroadcast(err) => {
                datagram(DatagramError::Broadcast(err.to_string()))
            }
            foca::Error::DataFromOurselves => datagram(DatagramError::FromOurselves),
            foca::Error::IndirectForOurselves => datagram(DatagramError::IndirectForOurselves),
            other => GossipError::Protocol(other.to_string()),
        }
    }
}
