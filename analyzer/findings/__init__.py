"""Findings: what a connection's segments prove, each with its evidence and one sentence.

One module per question (handshake, backoff, close, resets); each function takes
the connection and the state machine's steps, never a file.
"""
