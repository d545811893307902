"""The cloud behind one small interface.

``base`` holds the ``Platform`` protocol and its values, ``errors`` the typed errors,
``azure`` the implementation on the Azure SDK (imported explicitly: the SDK is slow to import),
``sandbox`` the local fake Azure.
"""
