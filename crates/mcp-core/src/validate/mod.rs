//! Input validation shared by the servers. Every check returns a [`ToolError::InvalidInput`]
//! that names the field, so the model can correct itself.
//!
//! [`ToolError::InvalidInput`]: crate::ToolError::InvalidInput

mod net;
mod port_arg;
mod text;

pub use net::{
    Cidr, NetClass, PortRange, Protocol, classify, is_loopback, parse_cidr, parse_port_range,
    parse_protocol,
};
pub use port_arg::{MAX_PORT_TEXT, PortArg, optional_port_schema};
pub use text::{
    NameRules, bounded_list, check_len, check_no_control, describe_char, excerpt, name,
};
