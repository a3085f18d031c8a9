"""xlsxgov: templates, validation and consolidation for the statutory tables of China's annual
reports on open government information (政府信息公开工作年度报告)."""

__version__ = "0.1.0"
