"""Stand-in for frappe.utils.password."""


def get_decrypted_password(doctype: str, name: str, fieldname: str = "password") -> str:
    """Return a secret in clear."""
    return "s3cret"
