"""While a caller waits: position/EWT announcements, the maximum wait, abandon-resume."""
