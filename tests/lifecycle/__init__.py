"""The whole payment life cycle under a Hypothesis state machine (issue 6)."""
