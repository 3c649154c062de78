"""sisessions: slowly paced, hands-free audio sessions of somatic movement patterns."""
__version__ = "0.1.0"
