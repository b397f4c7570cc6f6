"""The Django side of the oracle: one model, the same fields as ``odm.OracleDoc``."""

from __future__ import annotations

from django.db import models


class OracleRow(models.Model):
    """Nullable columns stand for fields the ODM stores as null or leaves out."""

    key = models.CharField(primary_key=True, max_length=16)
    num = models.IntegerField(null=True)
    num2 = models.IntegerField(null=True)
    flt = models.FloatField()
    flt2 = models.FloatField(null=True)
    txt = models.CharField(max_length=64, null=True)
    txt2 = models.CharField(max_length=64, null=True)
    flag = models.BooleanField()
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    amount2 = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    at = models.DateTimeField(null=True)
    at2 = models.DateTimeField(null=True)
    day = models.DateField(null=True)
    day2 = models.DateField(null=True)

    class Meta:
        app_label = "django_oracle"
