//! The integration tests: one binary, so one link step.

// Feed server, webhook receiver and a runner for the real binary.
mod support;

// Feed server → parleyd once → webhook receiver, end to end.
mod pipeline;
