"""`/voxnote ...` parsing and execution, shared by every platform."""
