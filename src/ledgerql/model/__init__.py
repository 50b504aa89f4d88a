"""The unified domain model: entities (`entities`), enums (`enums`) and error codes (`errors`)."""
