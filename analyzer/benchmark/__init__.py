"""The benchmark: synthetic captures with known life cycles, timed against tshark and tcptrace."""
