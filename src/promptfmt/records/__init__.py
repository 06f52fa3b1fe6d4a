"""Records in the data: fields read from JSON values (`fields`), field mapping and profiles
(`mapping`), and the dataset layouts that hold records, rendered text or conversations (`layouts`)."""
